"""The CBR scenario file and seeding (what both faces' scenarios share is in ``core/test_scenario.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.emulator.cbr.conftest import scenario
from worker.emulator import ScenarioError
from worker.emulator.cbr import CbrEmulator, CbrScenario

EXAMPLE = Path(__file__).parents[3] / "config" / "scenario.cbr.example.yaml"


def test_the_example_scenario_file_reads_and_unknown_keys_are_named(tmp_path: Path) -> None:
    """config/scenario.cbr.example.yaml is valid; a typo names the file and the key."""
    loaded = CbrScenario.from_yaml(EXAMPLE)
    assert (loaded.repeat_delete, loaded.gone_answer, loaded.faults[0].kind) == ("2003", "404", "429-retry-after")
    bad = tmp_path / "bad.yaml"
    bad.write_text("project_id: p\ngone_answr: '401'\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml.*gone_answr"):
        CbrScenario.from_yaml(bad)
    with pytest.raises(ScenarioError, match="time_form"):
        CbrScenario.from_mapping({"project_id": "p", "time_form": "local"})


def test_the_same_seed_gives_the_same_backups() -> None:
    """Seeding is deterministic: two emulators with one seed make identical backups."""
    def made(seed: int) -> list[Any]:
        emu = CbrEmulator(scenario(), seed=seed, clock=lambda: 0.0, wall_clock=lambda: 1.7e9)
        return [emu.backup(i) for i in emu.seed_random(4, vault_names=("default", "policy-a"))]

    assert made(7) == made(7) != made(8)


def test_the_switches_of_a_harder_service_read_from_yaml_and_refuse_bad_counts(tmp_path: Path) -> None:
    """progress_reported and busy_first_deletes default to a plain service, read from YAML, and a count below
    0 (or not whole) is refused, naming the key."""
    assert (scenario().progress_reported, scenario().busy_first_deletes) == (True, 0)
    path = tmp_path / "s.yaml"
    path.write_text("project_id: p\nprogress_reported: false\nbusy_first_deletes: 2\n")
    loaded = CbrScenario.from_yaml(path)
    assert (loaded.progress_reported, loaded.busy_first_deletes) == (False, 2)
    for bad in (-1, 0.5, True):
        with pytest.raises(ScenarioError, match="busy_first_deletes must be a whole number >= 0"):
            CbrScenario.from_mapping({"project_id": "p", "busy_first_deletes": bad})
