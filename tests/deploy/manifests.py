"""Reading, rendering and validating the Kubernetes manifests under deploy/kubernetes, without a cluster.

The base is rendered by ``render_simple``, a renderer for the few kustomize features the base uses
(resources, configMapGenerator without hash, images); it refuses any other key, so it is exact for what
it accepts, and a test holds it against ``kubectl kustomize`` wherever kubectl is installed. Overlays
use name suffixes and patches, which only real kustomize renders: ``render_kubectl`` (kubectl ships
kustomize; the python machine image has it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubernetes_validate import utils as kube_validate

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes"
BASE = KUBERNETES / "base"
SECRETS = KUBERNETES / "secrets"
MULTI_PROJECT = KUBERNETES / "overlays" / "multi-project"
CBR_PROJECT = KUBERNETES / "overlays" / "cbr-project"
MONITORING = KUBERNETES / "monitoring"
NETWORK_POLICY = KUBERNETES / "networkpolicy.yaml"
FLEET = KUBERNETES / "fleet"  # the Indexed Job of a fleet; per-user/ beside it: one CronJob per user
FLEET_PER_USER = FLEET / "per-user"
FLEET_SECRETS = FLEET / "secrets"

# API groups of custom resources, which kubernetes-validate has no schemas for (tests/deploy/test_monitoring.py
# checks the PrometheusRule's structure itself).
CUSTOM_RESOURCE_GROUPS = frozenset({"monitoring.coreos.com"})

OLDEST_VERSION = "1.31"  # podFailurePolicy is stable from 1.31 on: the oldest cluster the manifests claim
# backoffLimitPerIndex, maxFailedIndexes and FailIndex are stable from 1.33 on: the oldest for the fleet's Indexed Job
FLEET_OLDEST_VERSION = "1.33"

Manifest = dict[str, Any]

_SIMPLE_KEYS = frozenset({"apiVersion", "kind", "resources", "configMapGenerator", "generatorOptions", "images"})


def kube_versions(oldest: str = OLDEST_VERSION) -> list[str]:
    """Every minor version from ``oldest`` to the newest the installed kubernetes-validate knows."""
    known = sorted({kube_validate.major_minor(v) for v in kube_validate.all_versions()}, key=_version_key)
    return [v for v in known if _version_key(v) >= _version_key(oldest)]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def validate(manifest: Manifest, version: str) -> None:
    """Strict schema validation; raises on an unknown field, a wrong type or a kind with no schema."""
    kube_validate.validate(manifest, version, strict=True)


def load_documents(path: Path) -> list[Any]:
    """The non-empty YAML documents of a file."""
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def is_manifest(doc: Any) -> bool:
    """A Kubernetes object (not a kustomization or kustomize component, not a data file such as config.yaml)."""
    return (isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc
            and doc["kind"] not in {"Kustomization", "Component"})


def is_custom_resource(doc: Manifest) -> bool:
    """An object of a CRD's API group (no built-in schema)."""
    return str(doc["apiVersion"]).split("/")[0] in CUSTOM_RESOURCE_GROUPS


def manifest_files() -> list[Path]:
    """Every YAML file under deploy/kubernetes that holds built-in Kubernetes objects (custom resources aside)."""
    files = sorted(KUBERNETES.rglob("*.yaml"))
    return [path for path in files
            if any(is_manifest(doc) and not is_custom_resource(doc) for doc in load_documents(path))]


def render_simple(directory: Path) -> list[Manifest]:
    """Render a kustomization that uses only resources, configMapGenerator (no hash) and images."""
    kustomization = load_documents(directory / "kustomization.yaml")[0]
    unknown = set(kustomization) - _SIMPLE_KEYS
    if unknown:
        raise ValueError(f"render_simple cannot render {sorted(unknown)}: keep the base simple or use kubectl")
    if kustomization.get("configMapGenerator") and not kustomization.get("generatorOptions", {}).get(
            "disableNameSuffixHash"):
        raise ValueError("render_simple renders generators only with disableNameSuffixHash: true")
    objects: list[Manifest] = []
    for resource in kustomization.get("resources", []):
        objects.extend(load_documents(directory / resource))
    objects.extend(_config_map(directory, spec) for spec in kustomization.get("configMapGenerator", []))
    for image in kustomization.get("images", []):
        _set_image(objects, image)
    return objects


def _config_map(directory: Path, spec: dict[str, Any]) -> Manifest:
    if set(spec) - {"name", "files"}:
        raise ValueError(f"render_simple renders configMapGenerator name and files only, not {spec}")
    data = {Path(name).name: (directory / name).read_text(encoding="utf-8") for name in spec["files"]}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": spec["name"]}, "data": data}


def _set_image(objects: list[Manifest], image: dict[str, str]) -> None:
    for container in (c for obj in objects for c in pod_spec_containers(obj)):
        if container["image"].split(":")[0] == image["name"]:
            container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"


def kubectl() -> str | None:
    """The kubectl binary, if there is one (its kustomize renders offline)."""
    return shutil.which("kubectl")


def render_kubectl(directory: Path) -> list[Manifest]:
    """Render a kustomization with ``kubectl kustomize`` (real kustomize; no cluster needed)."""
    binary = kubectl()
    assert binary, "kubectl is not installed"
    result = subprocess.run([binary, "kustomize", str(directory)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def by_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    """The objects of one kind."""
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[Manifest], kind: str, name: str) -> Manifest:
    """The one object of a kind with a name."""
    matches = [obj for obj in by_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: found {len(matches)}"
    return matches[0]


def pod_spec(cronjob: Manifest) -> dict[str, Any]:
    """The pod template spec of a CronJob."""
    spec: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def pod_spec_containers(obj: Manifest) -> list[dict[str, Any]]:
    """The containers of a CronJob's pods; none for other kinds."""
    containers: list[dict[str, Any]] = pod_spec(obj)["containers"] if obj["kind"] == "CronJob" else []
    return containers


def worker_container(cronjob: Manifest) -> dict[str, Any]:
    """The CronJob's one container."""
    containers: list[dict[str, Any]] = pod_spec(cronjob)["containers"]
    assert len(containers) == 1
    return containers[0]


def flag_value(args: list[str], flag: str) -> str:
    """The value given to ``flag`` in a container's args (``--flag value`` or ``--flag=value``)."""
    for index, arg in enumerate(args):
        if arg == flag:
            return args[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{flag} is not in the args {args}")
