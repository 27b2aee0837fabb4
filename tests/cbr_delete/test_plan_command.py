"""`csbs-worker plan --service cbr --policy FILE`, what only CBR has: pages where offset=0 is refused, what is
never planned (locked vaults, shared-in and per-disk children), vault selection, CBR's time forms. What every
service promises of `plan` is in tests/contract/test_plan_command.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cbr_delete.conftest import CBR
from tests.contract.test_plan_command import every_page_then_the_pipe, time_zone_decides_the_days
from tests.harness import PROJECT, Run, ServedCbrEmulator, cbr_emulator_on_loopback, cloud_env
from tests.services import SERVICES

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


@pytest.mark.parametrize(("offset_zero", "count_is_total"), [("refused", False)])  # accepted: tests/contract
def test_every_page_is_listed_and_the_pipe_deletes_exactly_that(offset_zero: str, count_is_total: bool,
                                                                worker: Callable[..., Run],
                                                                policy: Callable[[str], str], tmp_path: Path) -> None:
    """1,050 backups (two pages of 1,000) and `keep: last: 1047`, where offset=0 is refused and count is the
    page's size: the plan names exactly the 3 oldest; `delete --service cbr -` fed with it deletes them;
    planning again finds nothing more."""
    every_page_then_the_pipe(SERVICES["cbr"], worker, policy, tmp_path, offset_zero=offset_zero,
                             count_is_total=count_is_total)


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


@pytest.mark.parametrize("time_form", ["naive", "z"])  # offset, the default: tests/contract/test_plan_command.py
def test_time_zone_of_the_policy_decides_the_days(time_form: str, worker: Callable[..., Run],
                                                  policy: Callable[[str], str]) -> None:
    """`daily` days begin in the policy's zone, whatever form CBR writes times in (zone-less, or Z)."""
    time_zone_decides_the_days(SERVICES["cbr"], worker, policy, time_form=time_form)
