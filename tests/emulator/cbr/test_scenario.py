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
