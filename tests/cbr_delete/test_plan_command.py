"""`csbs-worker plan --service cbr --policy FILE` against the CBR emulator: every page, the keep rules per
server, min_keep, max_deletions, explain, vault selection, time zones, what is never planned, and the plan
piped into `delete --service cbr -`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cbr_delete.conftest import CBR, outcomes
from tests.harness import PROJECT, Run, ServedCbrEmulator, cbr_emulator_on_loopback, cloud_env

SERVER_A = "5b3e0c9a-2d41-4f6e-8a7b-9c0d1e2f3a4b"
SERVER_B = "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
START = datetime(2026, 1, 1, tzinfo=UTC)


def history(served: ServedCbrEmulator, count: int, resource_id: str = SERVER_A, *, step: timedelta = timedelta(hours=1),
            start: datetime = START, **backup: Any) -> list[str]:
    """``count`` backups of one server, ``step`` apart, oldest first; returns their ids."""
    return [str(served.emulator.add_backup(resource_id=resource_id, resource_name=f"ecs-{resource_id[:4]}",
                                           created_at=start + step * n, **backup)["id"])
            for n in range(count)]


def planned(run: Run) -> list[str]:
    """The backup ids of a printed CBR plan, in its order."""
    assert run.code == 0, run.stderr[-3000:]
    document = yaml.safe_load(run.stdout)
    assert document["service"] == "cbr" and document["project_id"] == PROJECT
    return [entry["backup_id"] for entry in document["deletions"]]


@pytest.fixture
def policy(tmp_path: Path) -> Callable[[str], str]:
    def write(text: str) -> str:
        path = tmp_path / "policy.yaml"
        path.write_text(text, encoding="utf-8")
        return str(path)
    return write


@pytest.mark.parametrize(("offset_zero", "count_is_total"), [("accepted", True), ("refused", False)])
def test_every_page_is_listed_and_the_pipe_deletes_exactly_that(offset_zero: str, count_is_total: bool,
                                                                worker: Callable[..., Run],
                                                                policy: Callable[[str], str], tmp_path: Path) -> None:
    """1,050 backups (two pages of 1,000) and `keep: last: 1047`: the plan names exactly the 3 oldest (also
    when offset=0 is refused and count is the page's size); `delete --service cbr -` fed with it deletes them;
    planning again finds nothing more."""
    rules = policy("keep:\n  last: 1047\nmin_keep: 1\n")
    explain = tmp_path / "explain.json"
    with cbr_emulator_on_loopback(offset_zero=offset_zero, count_is_total=count_is_total) as served:
        ids = history(served, 1050)
        env = cloud_env(served.url)
        plan = worker(["plan", *CBR, "--policy", rules, "--explain", str(explain)], env, report=None)
        pages = served.emulator.stats.requests_by_route["list_backups"]
        deleted = worker(["delete", *CBR, "-"], env, stdin=plan.stdout)
        again = worker(["plan", *CBR, "--policy", rules], env, report=None)
        left = served.emulator.backup_ids()
    assert planned(plan) == ids[:3]
    assert pages >= 2
    decisions = json.loads(explain.read_text(encoding="utf-8"))
    assert len(decisions) == 1050
    assert {d["id"] for d in decisions if d["decision"] == "delete"} == set(ids[:3])
    assert deleted.code == 0
    assert outcomes(deleted) == dict.fromkeys(ids[:3], "deleted")
    assert planned(again) == []
    assert len(left) == 1047


def test_keep_rules_apply_per_server_with_min_keep(worker: Callable[..., Run], policy: Callable[[str], str]) -> None:
    """Histories are per resource_id: `last: 2` keeps the two newest of each server; `min_keep: 3` keeps
    three of each even with a rule that keeps fewer."""
    with cbr_emulator_on_loopback() as served:
        a = history(served, 5, SERVER_A)
        b = history(served, 4, SERVER_B, start=START + timedelta(minutes=30))
        env = cloud_env(served.url)
        by_last = worker(["plan", *CBR, "--policy", policy("keep:\n  last: 2\n")], env, report=None)
        by_min = worker(["plan", *CBR, "--policy", policy("keep:\n  last: 1\nmin_keep: 3\n")], env, report=None)
    assert sorted(planned(by_last)) == sorted(a[:3] + b[:2])
    assert planned(by_last) == [a[0], b[0], a[1], b[1], a[2]]  # oldest first
    assert sorted(planned(by_min)) == sorted(a[:2] + b[:1])


def test_max_deletions_refuses_the_plan(worker: Callable[..., Run], policy: Callable[[str], str]) -> None:
    """A plan above the policy's max_deletions is refused (exit 2): `plan` prints nothing, `delete --policy`
    sends no DELETE."""
    rules = policy("keep:\n  last: 1\nmax_deletions: 2\n")
    with cbr_emulator_on_loopback() as served:
        history(served, 6)
        env = cloud_env(served.url)
        plan = worker(["plan", *CBR, "--policy", rules], env, report=None)
        run = worker(["delete", *CBR, "--policy", rules], env)
        sent = served.emulator.stats.requests_by_route["delete"]
    assert plan.code == 2 and plan.stdout == ""
    assert "max_deletions" in plan.named("bad_input")[0]["error"]
    assert run.code == 2 and sent == 0
    assert "max_deletions" in run.named("bad_input")[0]["error"]


def test_locked_shared_and_child_backups_are_never_planned(worker: Callable[..., Run], policy: Callable[[str], str],
                                                           tmp_path: Path) -> None:
    """With `keep: last: 1`: automatic backups of a locked vault (before their expiry) are kept with the
    reason, shared-in backups and per-disk children are not governed at all; a manual backup of the locked
    vault and an expired automatic one are planned."""
    explain = tmp_path / "explain.json"
    soon = datetime.now(UTC) + timedelta(days=30)
    with cbr_emulator_on_loopback() as served:
        worm = str(served.emulator.add_vault("worm", locked=True)["id"])
        locked = history(served, 3, vault_id=worm, auto=True, expired_at=soon, children=1)
        manual = history(served, 1, vault_id=worm, start=START + timedelta(hours=3), children=1)
        expired = history(served, 1, vault_id=worm, auto=True, start=START + timedelta(hours=4),
                          expired_at=START + timedelta(days=30))
        shared = history(served, 2, shared=True, start=START - timedelta(days=1))
        newest = history(served, 1, start=START + timedelta(hours=5))
        children = [b for b in served.emulator.backup_ids() if served.emulator.backup(b)["parent_id"]]  # type: ignore[index]
        run = worker(["plan", *CBR, "--policy", policy("keep:\n  last: 1\n"), "--explain", str(explain)],
                     cloud_env(served.url), report=None)
    assert sorted(planned(run)) == sorted(manual + expired)
    decisions = {d["id"]: d for d in json.loads(explain.read_text(encoding="utf-8"))}
    assert set(decisions) == set(locked + manual + expired + newest)
    assert all(decisions[b]["decision"] == "keep" and "locked vault" in " ".join(decisions[b]["reasons"])
               for b in locked)
    assert not set(decisions) & set(shared + children)


def test_vault_names_and_vault_ids_select_backups(worker: Callable[..., Run], policy: Callable[[str], str]) -> None:
    """`select.vault_names` finds migrated backups by vault name (the old CSBS policy's, or `default`);
    `select.vault_ids` by vault id (any case). Backups of other vaults are not governed."""
    with cbr_emulator_on_loopback() as served:
        emulator = served.emulator
        default = history(served, 3, SERVER_A, vault_id=emulator.vault_id("default"))
        migrated = history(served, 3, SERVER_A, vault_id=emulator.vault_id("daily-policy"),
                           start=START + timedelta(minutes=10))
        other_vault = emulator.vault_id("other")
        other = history(served, 3, SERVER_A, vault_id=other_vault, start=START + timedelta(minutes=20))
        env = cloud_env(served.url)
        by_name = worker(["plan", *CBR, "--policy",
                          policy("select:\n  vault_names: [daily-policy]\nkeep:\n  last: 1\n")], env, report=None)
        by_names = worker(["plan", *CBR, "--policy",
                           policy("select:\n  vault_names: [default, daily-policy]\nkeep:\n  last: 1\n")],
                          env, report=None)
        by_id = worker(["plan", *CBR, "--policy",
                        policy(f"select:\n  vault_ids: [{other_vault.upper()}]\nkeep:\n  last: 2\n")], env, report=None)
    assert planned(by_name) == migrated[:2]
    # one history (SERVER_A) over both vaults: only its newest of the two vaults is kept
    assert sorted(planned(by_names)) == sorted(default + migrated[:2])
    assert planned(by_id) == other[:1]
    document = yaml.safe_load(by_id.stdout)
    assert document["deletions"] == [{"backup_id": other[0], "vault_id": other_vault}]


@pytest.mark.parametrize("time_form", ["offset", "naive", "z"])
def test_time_zone_of_the_policy_decides_the_days(time_form: str, worker: Callable[..., Run],
                                                  policy: Callable[[str], str]) -> None:
    """`daily` days begin in the policy's zone, whatever form CBR writes times in: at 10:00, 22:30 and
    23:30 UTC of one day, UTC sees one day (keeps the last), Europe/Berlin two (keeps 22:30 too)."""
    with cbr_emulator_on_loopback(time_form=time_form) as served:
        morning, late, later = (str(served.emulator.add_backup(resource_id=SERVER_A, created_at=START + offset)["id"])
                                for offset in (timedelta(hours=10), timedelta(hours=22, minutes=30),
                                               timedelta(hours=23, minutes=30)))
        env = cloud_env(served.url)
        utc = worker(["plan", *CBR, "--policy", policy("keep:\n  daily: 2\n")], env, report=None)
        berlin = worker(["plan", *CBR, "--policy", policy("timezone: Europe/Berlin\nkeep:\n  daily: 2\n")], env,
                        report=None)
    assert planned(utc) == [morning, late]
    assert planned(berlin) == [morning]
    assert later not in planned(utc)


def test_a_cbr_plan_is_refused_by_a_csbs_delete(worker: Callable[..., Run], policy: Callable[[str], str]) -> None:
    """The printed CBR plan says `service: cbr`: fed to `delete` without --service cbr it is refused, exit 2."""
    with cbr_emulator_on_loopback() as served:
        history(served, 3)
        env = cloud_env(served.url)
        plan = worker(["plan", *CBR, "--policy", policy("keep:\n  last: 1\n")], env, report=None)
        before = sum(served.emulator.stats.requests_by_route.values())
        run = worker(["delete", "-"], env, stdin=plan.stdout)
        after = sum(served.emulator.stats.requests_by_route.values())
    assert len(planned(plan)) == 2
    assert run.code == 2 and after == before
    assert "--service cbr" in run.named("bad_input")[0]["error"]


def test_delete_with_a_policy_plans_and_deletes(worker: Callable[..., Run], policy: Callable[[str], str]) -> None:
    """`delete --service cbr --policy` plans and deletes in one run; the report names backups and vaults."""
    with cbr_emulator_on_loopback() as served:
        ids = history(served, 5, children=1)
        vault = served.emulator.vault_id()
        run = worker(["delete", *CBR, "--policy", policy("keep:\n  last: 2\n")], cloud_env(served.url))
        left = served.emulator.backup_ids()
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids[:3], "deleted")
    assert run.report is not None and {r["vault_id"] for r in run.report["results"]} == {vault}
    assert run.named("policy_applied")[0]["delete"] == 3
    assert set(ids[3:]) <= set(left) and not set(ids[:3]) & set(left)
