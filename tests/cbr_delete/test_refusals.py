"""Backups CBR will not delete, and deletions that fail there: failed with the service's code, never
deleted, with a bounded number of DELETEs (docs/cbr-api.md, silent points 5, 9-11)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.cbr_delete.conftest import CBR, by_backup, delete_now, new_id, outcomes, seed, text_plan
from tests.harness import Run, cbr_emulator_on_loopback, cloud_env
from worker.services.cbr.rules import MAX_RESENDS


def test_locked_vault_auto_backup_fails_at_once_without_retry(worker: Callable[..., Run]) -> None:
    """An automatic backup in a locked vault before its expiry: failed BackupService.6220 after one DELETE,
    no busy answer followed, no re-send; a manual one in the same vault and an expired automatic one go."""
    with cbr_emulator_on_loopback() as served:
        vault = str(served.emulator.add_vault("worm", locked=True)["id"])
        (locked,) = seed(served, 1, vault_id=vault, auto=True, expired_at=datetime.now(UTC) + timedelta(days=30))
        (manual,) = seed(served, 1, vault_id=vault)
        (expired,) = seed(served, 1, vault_id=vault, auto=True,
                          expired_at=datetime.now(UTC) - timedelta(days=1))
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([locked, manual, expired]))
        sent = dict(served.emulator.stats.deletes_by_target)
        still = served.emulator.backup(locked)
    assert run.code == 1
    assert outcomes(run) == {locked: "failed", manual: "deleted", expired: "deleted"}
    row = by_backup(run)[locked]
    assert row["error_code"] == "BackupService.6220" and row["http_status"] == 400
    assert row["attempts"] == 1
    assert sent[locked] == 1
    assert still is not None and still["status"] == "available"
    assert [e for e in run.named("task_busy") if e.get("backup_id") == locked] == []
    assert run.named("task_resent") == []


def test_image_backed_backup_fails_with_6204(worker: Callable[..., Run]) -> None:
    """A backup an image was made from is refused with 6204: failed at once, one DELETE."""
    with cbr_emulator_on_loopback() as served:
        (image,) = seed(served, 1, image_backed=True)
        (plain,) = seed(served, 1)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([image, plain]))
        sent = served.emulator.stats.deletes_by_target[image]
    assert run.code == 1
    assert outcomes(run) == {image: "failed", plain: "deleted"}
    row = by_backup(run)[image]
    assert row["error_code"] == "BackupService.6204" and row["http_status"] == 400
    assert row["request_id"]
    assert sent == 1


@pytest.mark.parametrize("answer", ["403", "6711"])
def test_shared_in_backup_fails_and_the_run_goes_on(answer: str, worker: Callable[..., Run]) -> None:
    """A backup shared in from another project is not this project's to delete: whether CBR answers 403 or
    400 BackupService.6711, that task is failed and the project's own backups are still deleted."""
    with cbr_emulator_on_loopback(shared_delete=answer) as served:
        (shared,) = seed(served, 1, shared=True)
        own = seed(served, 3)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([shared, *own]))
        sent = served.emulator.stats.deletes_by_target[shared]
        still = served.emulator.backup(shared)
    assert run.code == 1, run.stderr[-2000:]
    assert outcomes(run) == {shared: "failed", **dict.fromkeys(own, "deleted")}
    row = by_backup(run)[shared]
    assert row["http_status"] == (403 if answer == "403" else 400)
    if answer == "6711":
        assert row["error_code"] == "BackupService.6711"
    assert sent == 1
    assert still is not None


@pytest.mark.parametrize("fail_mode", ["available", "error"])
@pytest.mark.parametrize(("fail_logs", "delete_logs"), [(True, True), (False, True), (False, False)],
                         ids=["failed-log", "no-failed-log", "no-logs"])
def test_deletion_that_falls_back_is_resent_then_failed(fail_mode: str, fail_logs: bool, delete_logs: bool,
                                                        worker: Callable[..., Run]) -> None:
    """A deletion that fails at the provider leaves the backup available or in error (no fail_op): the task
    is never deleted; the DELETE is re-sent a bounded number of times, then failed: with the code of its
    failed delete operation log where there is one (6201, "try again": not final while the backup is there
    to delete), else ``delete_failed``."""
    good, failing = [new_id(), new_id()], new_id()
    with cbr_emulator_on_loopback(fail_mode=fail_mode, fail_logs=fail_logs, delete_logs=delete_logs,
                                  fail_items=frozenset({failing})) as served:
        for backup_id in (*good, failing):
            served.emulator.add_backup(backup_id=backup_id)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([*good, failing]))
        sent = served.emulator.stats.deletes_by_target[failing]
        still = served.emulator.backup(failing)
    assert run.code == 1
    assert outcomes(run) == {**dict.fromkeys(good, "deleted"), failing: "failed"}
    row = by_backup(run)[failing]
    assert still is not None and still["status"] == fail_mode
    assert row["error_code"] == ("BackupService.6201" if fail_logs else "delete_failed")
    assert sent == 1 + MAX_RESENDS
    assert row["attempts"] == 1 + MAX_RESENDS
    assert len([e for e in run.named("task_resent") if e["backup_id"] == failing]) == MAX_RESENDS
    assert [e for e in run.named("task_deleted") if e["backup_id"] == failing] == []


def test_random_failures_are_never_deleted(worker: Callable[..., Run]) -> None:
    """With a third of all deletions failing at the provider, every task ends deleted or failed, and a
    failed one still exists (never reported deleted)."""
    with cbr_emulator_on_loopback(fail_rate=0.35, fail_logs=False, seed=7) as served:
        ids = seed(served, 12)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        left = set(served.emulator.backup_ids())
        sent = dict(served.emulator.stats.deletes_by_target)
    got = outcomes(run)
    assert set(got.values()) <= {"deleted", "failed"}
    assert {b for b, o in got.items() if o == "failed"} <= left
    assert {b for b, o in got.items() if o == "deleted"}.isdisjoint(left)
    assert all(n <= 1 + MAX_RESENDS for n in sent.values())


@pytest.mark.parametrize("child_delete", ["refused", "alone"])
def test_a_child_named_alone(child_delete: str, worker: Callable[..., Run]) -> None:
    """A plan that names a per-disk child by itself: refused with 6201 ("try again"), which is busy only up
    to its cap and then failed; or, where CBR deletes a child alone, deleted while its parent stays."""
    with cbr_emulator_on_loopback(child_delete=child_delete) as served:
        parent = served.emulator.add_backup(children=1)
        child = str(parent["children"][0]["id"])
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([child]))
        sent = served.emulator.stats.deletes_by_target[child]
        parent_left = served.emulator.backup(str(parent["id"]))
    assert parent_left is not None
    if child_delete == "alone":
        assert run.code == 0 and outcomes(run) == {child: "deleted"}
        return
    assert run.code == 1
    assert outcomes(run) == {child: "failed"}
    row = by_backup(run)[child]
    assert row["error_code"] == "BackupService.6201" and "answered 4 times" in row["error_message"]
    assert sent == 4


def test_a_vault_in_the_wrong_status_fails_after_its_cap(worker: Callable[..., Run]) -> None:
    """A backup in a frozen vault is refused with 6112: busy up to its cap, then failed; never deleted."""
    with cbr_emulator_on_loopback() as served:
        vault = str(served.emulator.add_vault("frozen", billing_status="frozen")["id"])
        (frozen,) = seed(served, 1, vault_id=vault)
        (fine,) = seed(served, 1)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([frozen, fine]))
    assert run.code == 1
    assert outcomes(run) == {frozen: "failed", fine: "deleted"}
    assert by_backup(run)[frozen]["error_code"] == "BackupService.6112"


@pytest.mark.parametrize("fail_logs", [True, False], ids=["failed-log", "no-failed-log"])
def test_adopted_deletion_that_fails_is_failed_never_deleted(fail_logs: bool, worker: Callable[..., Run]) -> None:
    """A deletion started before the run (adopted) that then fails at CBR: failed after the bounded re-sends
    (with its failed operation log's code where there is one), never deleted."""
    failing = new_id()
    with cbr_emulator_on_loopback(fail_items=frozenset({failing}), fail_logs=fail_logs,
                                  delete_duration_s=(0.3, 0.3)) as served:
        served.emulator.add_backup(backup_id=failing)
        delete_now(served, failing)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([failing]))
        sent = served.emulator.stats.deletes_by_target[failing]
    assert run.code == 1
    assert outcomes(run) == {failing: "failed"}
    assert run.named("task_adopted")
    row = by_backup(run)[failing]
    assert row["error_code"] == ("BackupService.6201" if fail_logs else "delete_failed")
    assert sent == 1 + MAX_RESENDS


@pytest.mark.parametrize("time_form", ["naive", "z"])
def test_failed_log_is_found_in_every_time_form(time_form: str, worker: Callable[..., Run]) -> None:
    """The failed delete log is matched to our DELETE whether CBR writes zone-less or whole-second Z times."""
    failing = new_id()
    with cbr_emulator_on_loopback(fail_items=frozenset({failing}), time_form=time_form, code_form="bare") as served:
        served.emulator.add_backup(backup_id=failing)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([failing]))
        sent = served.emulator.stats.deletes_by_target[failing]
    assert outcomes(run) == {failing: "failed"}
    assert by_backup(run)[failing]["error_code"] in ("BackupService.6201", "6201")  # the log's, not delete_failed
    assert sent == 1 + MAX_RESENDS
