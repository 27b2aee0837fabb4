"""config/worker.example.yaml: every setting documented, every example value accepted, defaults as the program's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import BASE, KUBERNETES, REPO, by_kind, render_simple, worker_container
from worker.settings import SETTINGS, load_settings, read_config_file

EXAMPLE = REPO / "config" / "worker.example.yaml"
SETTING_LINE = re.compile(r"^(# )?([a-z_]+):(.*)$")
# Flags of `delete` that are not settings (they name inputs or a mode), all in the CLI contract.
DELETE_FLAGS = {"--policy", "--explain", "--config", "--dry-run", "--emulator", "--format"}


def setting_lines() -> dict[str, tuple[int, bool, str]]:
    """Each setting line of the example: key -> (line index, commented out, value text)."""
    found: dict[str, tuple[int, bool, str]] = {}
    for index, line in enumerate(EXAMPLE.read_text(encoding="utf-8").splitlines()):
        match = SETTING_LINE.match(line)
        if match and match[2] in {spec.key for spec in SETTINGS}:
            assert match[2] not in found, f"{match[2]} appears twice"
            found[match[2]] = (index, bool(match[1]), match[3].strip())
    return found


def uncommented(tmp_path: Path) -> Path:
    """A copy of the example with every `# key: value` line switched on."""
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = "|".join(spec.key for spec in SETTINGS)
    path = tmp_path / "worker.yaml"
    path.write_text(re.sub(rf"^# ({keys}):", r"\1:", text, flags=re.MULTILINE), encoding="utf-8")
    return path


def test_example_loads_as_it_stands() -> None:
    """The example is a valid config file: known keys only, no secrets, good values."""
    settings = load_settings({"config": str(EXAMPLE)}, env={})
    assert settings.endpoint and settings.project_id


def test_every_setting_is_in_the_example_under_its_own_comment() -> None:
    """Each row of the settings table has a line in the example, with a comment line right above it."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    found = setting_lines()
    assert set(found) == {spec.key for spec in SETTINGS}
    setting_indexes = {index for index, _, _ in found.values()}
    for key, (index, _, _) in found.items():
        assert lines[index - 1].startswith("# ") and index - 1 not in setting_indexes, f"{key}: no comment of its own"


def test_every_example_value_is_accepted(tmp_path: Path) -> None:
    """Switched on, every commented-out example value passes the worker's own checks."""
    path = uncommented(tmp_path)
    assert set(read_config_file(str(path))) == {spec.key for spec in SETTINGS}
    load_settings({"config": str(path)}, env={})


@pytest.mark.parametrize("spec", [spec for spec in SETTINGS if spec.default is not None], ids=lambda s: s.key)
def test_commented_defaults_are_the_program_defaults(spec) -> None:
    """Where a setting has a default, the example shows exactly that default."""
    _, commented, value = setting_lines()[spec.key]
    assert commented, f"{spec.key} has a default: show it commented out, so the program's default applies"
    assert spec.parse(str(yaml.safe_load(value))) == spec.default


def test_every_knob_the_manifests_use_is_in_the_example_and_the_cli_contract() -> None:
    """The CronJob's flags and its config.yaml keys are documented settings (or the delete command's own flags)."""
    documented = set(setting_lines())
    (cronjob,) = by_kind(render_simple(BASE), "CronJob")
    flags = {arg.split("=")[0] for arg in worker_container(cronjob)["args"] if arg.startswith("--")}
    setting_flags = {spec.flag: spec.key for spec in SETTINGS}
    assert flags <= set(setting_flags) | DELETE_FLAGS
    assert {setting_flags[flag] for flag in flags if flag in setting_flags} <= documented
    for path in sorted(KUBERNETES.rglob("config.yaml")):
        assert set(yaml.safe_load(path.read_text(encoding="utf-8"))) <= documented, path
