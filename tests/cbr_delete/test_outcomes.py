"""`csbs-worker delete --service cbr` end to end against the CBR emulator: outcomes, report, calls received."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.cbr_delete.conftest import (
    CBR,
    ZERO_COUNTS,
    by_backup,
    deletes,
    high_water,
    new_id,
    outcomes,
    seed,
    text_plan,
)
from tests.harness import PROJECT, Run, cbr_emulator_on_loopback, cloud_env


def test_every_backup_deleted_exit_0_with_backup_id_keys(worker: Callable[..., Run]) -> None:
    """A plan of existing backups: every task deleted, exit 0, one DELETE each, children gone with their
    parent, and a report that says `service: cbr` and names backups (`backup_id`, `vault_id`)."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 12, children=1)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        stats = served.emulator.stats
        left = served.emulator.backup_ids()
    assert run.code == 0
    assert run.report is not None
    assert run.report["service"] == "cbr" and run.report["project_id"] == PROJECT
    assert run.report["counts"] == {**ZERO_COUNTS, "deleted": 12}
    row = run.report["results"][0]
    assert {"backup_id", "vault_id", "outcome", "attempts", "error_code", "error_message"} <= set(row)
    assert "checkpoint_id" not in row and "checkpoint_item" not in row
    assert row["vault_id"] is None  # the plan gave no vault
    assert set(outcomes(run)) == set(ids) and set(outcomes(run).values()) == {"deleted"}
    assert all(stats.deletes_by_target[b] == 1 for b in ids)
    assert sum(stats.deletes_by_target.values()) == 12  # no DELETE of a child
    assert left == []
    assert high_water(served) <= 5
    deleted = run.named("task_deleted")
    assert len(deleted) == 12 and {e["backup_id"] for e in deleted} == set(ids)
    assert run.named("run_summary")[0]["exit_code"] == 0


def test_absent_backup_is_already_absent(worker: Callable[..., Run]) -> None:
    """A backup that does not exist is already_absent (404 BackupService.6200) and the run succeeds."""
    with cbr_emulator_on_loopback() as served:
        (present,) = seed(served, 1)
        absent = new_id()
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([present, absent]))
    assert run.code == 0
    assert outcomes(run) == {present: "deleted", absent: "already_absent"}
    assert by_backup(run)[absent]["error_code"] is None


def test_yaml_plan_with_vault_check(worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """A YAML plan (`service: cbr`) with `vault_id` checks: the right vault is deleted, a backup in another
    vault fails (vault_mismatch) before any DELETE, an absent one with a vault is already_absent."""
    with cbr_emulator_on_loopback() as served:
        vault = served.emulator.vault_id("default")
        other = served.emulator.vault_id("daily-policy")
        (right,) = seed(served, 1, vault_id=vault)
        (wrong,) = seed(served, 1, vault_id=other)
        absent = new_id()
        plan = write_plan(f"service: cbr\nproject_id: {PROJECT}\ndeletions:\n"
                          f"  - backup_id: {right}\n    vault_id: {vault}\n"
                          f"  - backup_id: {wrong}\n    vault_id: {vault}\n"
                          f"  - backup_id: {absent}\n    vault_id: {vault}\n")
        run = worker(["delete", *CBR, plan], cloud_env(served.url))
        sent = dict(served.emulator.stats.deletes_by_target)
        still = served.emulator.backup(wrong)
    assert run.code == 1
    assert outcomes(run) == {right: "deleted", wrong: "failed", absent: "already_absent"}
    rows = by_backup(run)
    assert rows[right]["vault_id"] == vault
    assert rows[wrong]["error_code"] == "vault_mismatch" and other in rows[wrong]["error_message"]
    assert wrong not in sent and still is not None


def test_json_lines_plan_on_stdin(worker: Callable[..., Run]) -> None:
    """A JSON Lines plan of `{"backup_id": ...}` entries on stdin is detected and carried out."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 3)
        lines = "".join(json.dumps({"backup_id": b}) + "\n" for b in ids)
        run = worker(["delete", *CBR], cloud_env(served.url), stdin=lines)
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")


def test_service_from_the_environment(worker: Callable[..., Run]) -> None:
    """CSBS_SERVICE=cbr selects CBR as --service cbr does."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 2)
        run = worker(["delete", "-"], {**cloud_env(served.url), "CSBS_SERVICE": "cbr"}, stdin=text_plan(ids))
    assert run.code == 0
    assert run.report is not None and run.report["service"] == "cbr"
    assert outcomes(run) == dict.fromkeys(ids, "deleted")


def test_duplicates_are_deleted_once_with_a_warning(worker: Callable[..., Run], write_plan: Callable[..., str]
                                                     ) -> None:
    """A backup named twice (text, and again in a second plan file) gets one task, one DELETE, a warning."""
    with cbr_emulator_on_loopback() as served:
        one, two = seed(served, 2)
        first = write_plan(text_plan([one, two, one]), "a.txt")
        second = write_plan(f"deletions:\n  - backup_id: {two}\n", "b.yaml")
        run = worker(["delete", *CBR, first, second], cloud_env(served.url))
        sent = dict(served.emulator.stats.deletes_by_target)
    assert run.code == 0
    assert outcomes(run) == {one: "deleted", two: "deleted"}
    assert sent == {one: 1, two: 1}
    assert len(run.named("plan_duplicate")) == 2


def test_max_deletions_refuses_the_plan(worker: Callable[..., Run]) -> None:
    """--max-deletions N refuses a bigger CBR plan with exit 2 before any DELETE."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 4)
        run = worker(["delete", *CBR, "--max-deletions", "3", "-"], cloud_env(served.url), stdin=text_plan(ids))
        sent = deletes(served)
    assert run.code == 2
    assert sent == 0
    assert "more than --max-deletions 3" in run.named("bad_input")[0]["error"]


def test_dry_run_reads_only_and_lists_backup_ids(worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """--dry-run prints the backup ids (with the plan's vault), reports every task not_attempted, exit 0, and
    sends no DELETE."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 3)
        vault = served.emulator.vault_id()
        plan = write_plan("deletions:\n" + "".join(f"  - backup_id: {b}\n" for b in ids[:2])
                          + f"  - backup_id: {ids[2]}\n    vault_id: {vault}\n")
        run = worker(["delete", *CBR, "--dry-run", plan], cloud_env(served.url))
        stats = served.emulator.stats
        left = served.emulator.backup_ids()
    assert run.code == 0
    assert sum(stats.deletes_by_target.values()) == 0 and stats.requests_by_route["delete"] == 0
    assert sorted(left) == sorted(ids)
    assert run.report is not None and run.report["dry_run"] is True
    assert run.report["counts"] == {**ZERO_COUNTS, "not_attempted": 3}
    lines = run.stdout.splitlines()
    assert lines == [ids[0], ids[1], f"{ids[2]}  # vault {vault}"]


def test_concurrency_limit_at_the_provider(worker: Callable[..., Run]) -> None:
    """Five slots by default, --concurrency 2 when asked: the emulator never sees more outstanding."""
    with cbr_emulator_on_loopback(delete_duration_s=(0.1, 0.2)) as served:
        ids = seed(served, 12)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        default_high = high_water(served)
    with cbr_emulator_on_loopback(delete_duration_s=(0.1, 0.2)) as served:
        ids2 = seed(served, 8)
        limited = worker(["delete", *CBR, "--concurrency", "2", "-"], cloud_env(served.url), stdin=text_plan(ids2))
        limited_high = high_water(served)
    assert run.code == 0 and limited.code == 0
    assert default_high == 5
    assert limited_high == 2


def test_report_to_stdout(worker: Callable[..., Run]) -> None:
    """--report - writes the CBR report to stdout."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 2)
        run = worker(["delete", *CBR, "--report", "-", "-"], cloud_env(served.url), stdin=text_plan(ids),
                     report=None)
    report = json.loads(run.stdout)
    assert report["service"] == "cbr"
    assert report["counts"]["deleted"] == 2
    assert {r["backup_id"] for r in report["results"]} == set(ids)
    assert report["calls"]["delete"] == 2
