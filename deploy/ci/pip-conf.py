"""Writes the pip config a container build needs to reach this machine's package index.

Reads what pip itself is configured with here (``pip config list``: the config files and the PIP_*
environment) and keeps only what a build in a container can use: the http(s) index URLs, trusted
hosts, and the CA bundle (``cert``) as the path at which the build mounts it, /run/secrets/pip-ca.
Local folders (file:// indexes, find-links) and constraints stay out: they exist on this disk only.
Prints nothing of the config itself, as the URLs may hold a token. Usage:
    pip-conf.py PIP OUT_CONF OUT_CA    (OUT_CA is written only when a cert is configured)
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys

_URL_KEYS = ("index-url", "extra-index-url")
_KEPT = (*_URL_KEYS, "trusted-host", "cert")


def configured(pip: str) -> dict[str, str]:
    """pip's settings by key; the environment wins over the files, as in pip."""
    listing = subprocess.run([pip, "config", "list"], capture_output=True, text=True, check=True).stdout
    found: dict[str, tuple[bool, str]] = {}
    for line in listing.splitlines():
        name, _, raw = line.partition("=")
        scope, _, key = name.rpartition(".")
        if key in _KEPT and raw:
            from_env = scope == ":env:"
            if from_env or not found.get(key, (False, ""))[0]:
                found[key] = (from_env, str(ast.literal_eval(raw)))
    return {key: value for key, (_, value) in found.items()}


def main(pip: str, out_conf: str, out_ca: str) -> None:
    settings = configured(pip)
    lines = ["[global]"]
    for key in _URL_KEYS:
        urls = [url for url in settings.get(key, "").split() if url.startswith(("https://", "http://"))]
        if urls:
            lines.append(f"{key} = {' '.join(urls)}")
    if settings.get("trusted-host"):
        lines.append(f"trusted-host = {settings['trusted-host']}")
    if settings.get("cert"):
        shutil.copyfile(settings["cert"], out_ca)
        lines.append("cert = /run/secrets/pip-ca")
    with open(out_conf, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
