"""`csbs-worker plan` against the emulator: every page listed, the plan piped into `delete -`, then nothing more."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from tests.delete.conftest import new_id
from tests.harness import Run, ServedEmulator, cloud_env, emulator_on_loopback

SERVER = "5b3e0c9a-2d41-4f6e-8a7b-9c0d1e2f3a4b"


def seed_history(served: ServedEmulator, count: int) -> list[str]:
    """``count`` hourly backups of one server, oldest first; returns their ids."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for hour in range(count):
        item = new_id()
        served.emulator.add_item(checkpoint_id=new_id(), item_id=item, resource_id=SERVER, name=f"autobk_{hour}",
                                 created_at=(start + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%S.%f"))
        ids.append(item)
    return ids


def test_plan_reads_every_page_and_the_pipe_deletes_exactly_that(worker: Callable[..., Run], tmp_path: Path) -> None:
    """With 1,500 backups (two pages of 1,000) and `keep: last: 1497`, the plan names exactly the 3 oldest;
    `delete -` fed with it deletes them; planning again finds nothing more to delete."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("keep:\n  last: 1497\nmin_keep: 1\n", encoding="utf-8")
    explain = tmp_path / "explain.json"
    with emulator_on_loopback() as served:
        ids = seed_history(served, 1500)
        env = cloud_env(served.url)
        planned = worker(["plan", "--policy", str(policy), "--explain", str(explain)], env, report=None)
        deleted = worker(["delete", "-"], env, stdin=planned.stdout)
        again = worker(["plan", "--policy", str(policy)], env, report=None)
        lists = served.emulator.stats.requests_by_route["list"]
    assert planned.code == 0
    plan = yaml.safe_load(planned.stdout)
    doomed = [item for entry in plan["deletions"] for item in entry["checkpoint_items"]]
    assert sorted(doomed) == sorted(ids[:3])
    decisions = json.loads(explain.read_text(encoding="utf-8"))
    assert len(decisions) == 1500
    assert {d["id"] for d in decisions if d["decision"] == "delete"} == set(ids[:3])
    assert deleted.code == 0
    assert set(deleted.outcomes()) == set(ids[:3]) and set(deleted.outcomes().values()) == {"deleted"}
    assert again.code == 0
    assert yaml.safe_load(again.stdout)["deletions"] == []
    assert lists >= 4  # each listing followed its pages


def test_plan_refuses_a_policy_without_keep_rules(worker: Callable[..., Run], tmp_path: Path) -> None:
    """A policy that would delete everything is refused with exit 2 and prints no plan."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("keep: {}\n", encoding="utf-8")
    with emulator_on_loopback() as served:
        seed_history(served, 3)
        run = worker(["plan", "--policy", str(policy)], cloud_env(served.url), report=None)
    assert run.code == 2
    assert run.stdout == ""
    assert "policy.yaml" in run.named("bad_input")[0]["error"]


def test_max_deletions_of_the_policy_refuses_the_plan(worker: Callable[..., Run], tmp_path: Path) -> None:
    """A plan above the policy's max_deletions is refused (exit 2) and nothing is deleted."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("keep:\n  last: 1\nmax_deletions: 2\n", encoding="utf-8")
    with emulator_on_loopback() as served:
        seed_history(served, 6)
        run = worker(["delete", "--policy", str(policy)], cloud_env(served.url))
        sent = sum(served.emulator.stats.deletes_by_target.values())
    assert run.code == 2
    assert sent == 0
    assert "max_deletions" in run.named("bad_input")[0]["error"]


def test_listing_that_keeps_failing_is_exit_1_with_a_report(worker: Callable[..., Run], tmp_path: Path) -> None:
    """When the cloud keeps failing the listing a policy needs, the run gives up within the task timeout:
    exit 1 (a later run may succeed), a report and no DELETE."""
    from worker.emulator import FaultRule

    policy = tmp_path / "policy.yaml"
    policy.write_text("keep:\n  last: 1\n", encoding="utf-8")
    with emulator_on_loopback(faults=(FaultRule("list", "503"),)) as served:
        seed_history(served, 4)
        run = worker(["delete", "--policy", str(policy), "--task-timeout", "0.5"], cloud_env(served.url))
        sent = sum(served.emulator.stats.deletes_by_target.values())
    assert run.code == 1
    assert sent == 0
    assert "503" in run.named("run_failed")[0]["reason"]
    assert run.report is not None and run.report["exit_code"] == 1
