"""The README's front door: the demo command runs the real job against the embedded emulator."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.harness import Run

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^(python3 -m venv .*)$", text, flags=re.MULTILINE)


def test_readme_has_the_two_fresh_machine_commands_and_ci_runs_the_second() -> None:
    """The README's first command runs the demo, its second runs the tests, and .ci/run runs that one."""
    demo, tests = readme_commands()[:2]
    assert demo.endswith("csbs-worker delete --emulator config/plan.example.yaml")
    assert tests.endswith("pytest")
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_demo_deletes_the_example_plan_with_exit_0(worker: Callable[..., Run], tmp_path: Path) -> None:
    """`delete --emulator config/plan.example.yaml` deletes all five tasks of the example plan, exit 0."""
    scenario = tmp_path / "fast.yaml"
    scenario.write_text("delete_duration_s: [0.05, 0.2]\n", encoding="utf-8")
    run = worker(["delete", "--emulator", "--emulator-scenario", str(scenario),
                  str(ROOT / "config" / "plan.example.yaml")], {})
    assert run.code == 0
    assert run.report is not None
    assert run.report["counts"]["deleted"] == 5
    assert run.named("emulator_started")
    assert run.named("run_summary")[0]["exit_code"] == 0


def test_demo_with_a_policy_plans_and_deletes(worker: Callable[..., Run], tmp_path: Path) -> None:
    """`delete --emulator --policy` plans against random seeded backups and deletes what the policy drops."""
    scenario = tmp_path / "fast.yaml"
    scenario.write_text("delete_duration_s: [0.02, 0.05]\n", encoding="utf-8")
    policy = tmp_path / "policy.yaml"
    policy.write_text("keep:\n  last: 2\n", encoding="utf-8")
    run = worker(["delete", "--emulator", "--emulator-scenario", str(scenario), "--policy", str(policy)], {})
    assert run.code == 0, run.stderr[-3000:]
    assert run.report is not None
    applied = run.named("policy_applied")[0]
    assert applied["delete"] > 0
    assert run.report["counts"]["deleted"] == applied["delete"]
