"""deploy/requirements.lock, which the image installs from: in step with pyproject.toml, every file hashed."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.manifests import REPO

LOCK = REPO / "deploy" / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}( \\)?$")


def locked() -> dict[str, tuple[Version, int]]:
    """Each locked package: its pinned version and how many file hashes it has."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if pin := PIN.match(line):
            current = canonicalize_name(pin[1])
            assert current not in pins, f"{current} is locked twice"
            pins[current] = (Version(pin[2]), 0)
        else:
            assert HASH.match(line) and current, f"not a pin or a hash in the lock: {line!r}"
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def test_lock_pins_every_runtime_and_build_dependency_with_a_satisfying_version() -> None:
    """Each of pyproject's dependencies (and build requires) is locked at one version its specifier admits."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    pins = locked()
    wanted = [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is missing from {LOCK.name}: run deploy/lock.sh"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} in {LOCK.name} does not satisfy pyproject's {requirement}: run deploy/lock.sh")


def test_every_locked_package_has_hashes_and_the_lock_names_no_index() -> None:
    """pip --require-hashes needs a hash per package; index URLs stay in the machine's pip config."""
    for name, (_, hashes) in locked().items():
        assert hashes >= 1, f"{name} has no --hash"
    text = LOCK.read_text(encoding="utf-8")
    assert not re.search(r"--(extra-)?index-url|--find-links|--trusted-host|://", text)


def test_the_image_installs_exactly_the_lock() -> None:
    """The Dockerfile copies the lock and installs it with --require-hashes and without other dependencies."""
    dockerfile = re.sub(r"\\\n", " ", (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8"))
    assert "COPY deploy/requirements.lock" in dockerfile
    installs = [line for line in dockerfile.splitlines() if " install " in line and line.startswith("RUN")]
    assert any("--require-hashes" in line and "-r requirements.lock" in line for line in installs)
    assert all("--no-deps" in line for line in installs)
