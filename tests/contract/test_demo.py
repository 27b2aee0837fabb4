"""The README's front door: the demo runs the real job against the embedded emulator of either service."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.harness import Run
from tests.services import SERVICES, Service

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^(python3 -m venv .*)$", text, flags=re.MULTILINE)


def fast_scenario(tmp_path: Path, duration: str = "[0.05, 0.2]") -> str:
    scenario = tmp_path / "fast.yaml"
    scenario.write_text(f"delete_duration_s: {duration}\n", encoding="utf-8")
    return str(scenario)


def test_readme_has_the_two_fresh_machine_commands_and_ci_runs_the_second() -> None:
    """The README's first command runs the demo, its second runs the tests, and .ci/run runs that one."""
    demo, tests = readme_commands()[:2]
    assert demo.endswith("csbs-worker delete --emulator config/plan.example.yaml")
    assert tests.endswith("pytest")
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_demo_deletes_the_example_plan_with_exit_0(service: Service, worker: Callable[..., Run],
                                                   tmp_path: Path) -> None:
    """`delete [--service cbr] --emulator <the service's example plan>` deletes all five of its tasks, exit 0."""
    run = worker(["delete", *service.flags, "--emulator", "--emulator-scenario", fast_scenario(tmp_path),
                  str(service.example_plan)], {})
    assert run.code == 0, run.stderr[-3000:]
    assert run.report is not None and run.report["service"] == service.name
    assert run.report["counts"]["deleted"] == 5
    assert service.outcomes(run) == dict.fromkeys(service.example_keys(), "deleted")
    assert run.named("emulator_started")
    assert run.named("run_summary")[0]["exit_code"] == 0


def test_demo_with_a_policy_plans_and_deletes(service: Service, worker: Callable[..., Run], tmp_path: Path) -> None:
    """`delete --emulator --policy` plans against random seeded backups and deletes what the policy drops."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("keep:\n  last: 2\n", encoding="utf-8")
    run = worker(["delete", *service.flags, "--emulator", "--emulator-scenario",
                  fast_scenario(tmp_path, "[0.02, 0.05]"), "--policy", str(policy)], {})
    assert run.code == 0, run.stderr[-3000:]
    assert run.report is not None
    applied = run.named("policy_applied")[0]
    assert applied["delete"] > 0
    assert run.report["counts"]["deleted"] == applied["delete"]


def test_demo_refuses_the_other_services_plan(service: Service, worker: Callable[..., Run]) -> None:
    """The other service's example plan with `--emulator` is refused (exit 2) before anything starts."""
    other = next(s for s in SERVICES.values() if s is not service)
    run = worker(["delete", *service.flags, "--emulator", str(other.example_plan)], {})
    assert run.code == 2
    assert run.named("emulator_started") == []
