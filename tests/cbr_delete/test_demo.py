"""The zero-setup CBR demo: `delete --service cbr --emulator` runs the real job against an embedded CBR."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from tests.cbr_delete.conftest import CBR, outcomes
from tests.harness import Run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "plan.cbr.example.yaml"


def fast_scenario(tmp_path: Path) -> str:
    scenario = tmp_path / "fast.yaml"
    scenario.write_text("delete_duration_s: [0.05, 0.2]\n", encoding="utf-8")
    return str(scenario)


def test_demo_deletes_the_example_plan(worker: Callable[..., Run], tmp_path: Path) -> None:
    """`delete --service cbr --emulator config/plan.cbr.example.yaml` deletes its five backups, exit 0."""
    example = [entry["backup_id"] for entry in yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["deletions"]]
    run = worker(["delete", *CBR, "--emulator", "--emulator-scenario", fast_scenario(tmp_path), str(EXAMPLE)], {})
    assert run.code == 0, run.stderr[-3000:]
    assert outcomes(run) == dict.fromkeys(example, "deleted")
    assert run.report is not None and run.report["service"] == "cbr"
    assert run.named("emulator_started")
    assert run.named("run_summary")[0]["exit_code"] == 0


def test_demo_with_a_policy_plans_and_deletes(worker: Callable[..., Run], tmp_path: Path) -> None:
    """`delete --service cbr --emulator --policy` plans against seeded backups and deletes what it drops."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("keep:\n  last: 2\n", encoding="utf-8")
    run = worker(["delete", *CBR, "--emulator", "--emulator-scenario", fast_scenario(tmp_path), "--policy",
                  str(policy)], {})
    assert run.code == 0, run.stderr[-3000:]
    applied = run.named("policy_applied")[0]
    assert applied["delete"] > 0
    assert run.report is not None and run.report["counts"]["deleted"] == applied["delete"]


def test_demo_refuses_a_csbs_plan(worker: Callable[..., Run], tmp_path: Path) -> None:
    """The CSBS example plan with `--service cbr --emulator` is refused (exit 2) before anything starts."""
    run = worker(["delete", *CBR, "--emulator", str(ROOT / "config" / "plan.example.yaml")], {})
    assert run.code == 2
    assert run.named("emulator_started") == []
