"""TaskRunner against the CBR emulator over loopback: one CBR deletion from its DELETE to a seen end.

Each test names the emulator switch it leans on; durations, timeouts and the lag window are fractions of a
second, so the whole file runs in a few seconds of real time.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.cbr.conftest import FAST_RETRY, USER, cloud, scenario
from worker.emulator.cbr import CbrEmulator, CbrFaultRule
from worker.engine.clock import LoopClock
from worker.engine.outcomes import Outcome, RunAbort, TaskEnd
from worker.engine.pacing import PollTiming
from worker.engine.tracking import StepAside, TaskRunner, TaskTrace, TrackingPolicy
from worker.services.cbr.client import CbrClient
from worker.services.cbr.rules import MAX_RESENDS, CbrRules

MISSING = "00000000-0000-4000-8000-000000000000"
TARGET = "6df2b54c-dd62-4059-a07c-1b8f24f2725d"  # a backup id a scenario can name before it is seeded
QUICK = (0.1, 0.2)  # delete_duration_s of every test that lets deletions end
POLICY = TrackingPolicy(task_timeout_s=5.0, lag_window_s=0.15,
                        timing=PollTiming(first_s=0.02, min_s=0.02, max_s=0.1), retry=FAST_RETRY,
                        look_budget_s=0.5)
FAIL_THEN_PASS_SEED = 1  # with fail_rate 0.5, this seed fails the first deletion and not the second


@dataclass(frozen=True)
class Spec:
    """A plan entry as the scheduler passes it: for CBR the vault and the backup."""

    container_id: str
    backup_id: str | None


@dataclass
class Tracked:
    """What one run of the runner gave."""

    ending: TaskEnd | RunAbort
    trace: TaskTrace
    logs: list[MutableMapping[str, Any]]

    @property
    def end(self) -> TaskEnd:
        assert isinstance(self.ending, TaskEnd), self.ending
        return self.ending

    def events(self, name: str) -> list[MutableMapping[str, Any]]:
        return [entry for entry in self.logs if entry["event"] == name]


@contextlib.asynccontextmanager
async def runner_on(emu: CbrEmulator,
                    policy: TrackingPolicy = POLICY) -> AsyncIterator[tuple[TaskRunner, CbrClient]]:
    async with cloud(emu) as client:
        yield TaskRunner(CbrRules(client), policy, LoopClock()), client


async def run_task(runner: TaskRunner, backup_id: str, *, adopted: bool = False, vault_id: str = "") -> Tracked:
    trace = TaskTrace("", backup_id, started_at=runner.clock.now())
    with capture_logs() as logs:
        ending = await runner.run(Spec(vault_id, backup_id), trace, adopted=adopted)
        while isinstance(ending, StepAside):  # back at once after its backoff, as a free slot would take it
            await runner.clock.sleep(ending.until - runner.clock.now())
            ending = await runner.run(Spec(vault_id, backup_id), trace, resume=ending)
    return Tracked(ending, trace, logs)


async def track(emu: CbrEmulator, backup_id: str, policy: TrackingPolicy = POLICY) -> Tracked:
    async with runner_on(emu, policy) as (runner, _):
        return await run_task(runner, backup_id)


def backup(emu: CbrEmulator, **fields: Any) -> str:
    return str(emu.add_backup(**fields)["id"])


# -- gone -----------------------------------------------------------------------------------------------

async def test_a_deletion_is_followed_through_its_queue_and_progress_to_gone() -> None:
    """One deletion per user: ours waits (waiting_delete), runs (deleting, progress), then 404 = deleted."""
    emu = CbrEmulator(scenario(deletions_per_user=1, delete_duration_s=(0.3, 0.3)), seed=1)
    first, ours = backup(emu, children=1), backup(emu)
    async with runner_on(emu) as (runner, client):
        assert (await client.delete_backup(first)).status == 204
        tracked = await run_task(runner, ours)
    assert tracked.end == TaskEnd(Outcome.DELETED)
    assert tracked.trace.attempts == 1 and tracked.trace.polls >= 3 and tracked.trace.state == "running"
    assert tracked.events("task_submitted") and tracked.events("task_queued") and tracked.events("task_running")
    assert [e["event"] for e in tracked.logs][-1] == "task_deleted"
    assert emu.backup(ours) is None and emu.stats.deletes_by_target[ours] == 1


async def test_a_plan_vault_that_matches_is_deleted_after_one_look() -> None:
    """An entry with vault_id: one GET confirms the vault, then the DELETE goes out as usual."""
    emu = CbrEmulator(scenario(delete_duration_s=QUICK), seed=1)
    vault = emu.vault_id("default")
    ours = backup(emu, vault_id=vault)
    async with runner_on(emu) as (runner, _):
        tracked = await run_task(runner, ours, vault_id=vault)
    assert tracked.end == TaskEnd(Outcome.DELETED)
    assert emu.stats.deletes_by_target[ours] == 1


async def test_a_backup_in_another_vault_than_the_plan_says_is_failed_without_a_delete() -> None:
    """The vault_id of a plan entry is a check: a backup found in another vault is never sent a DELETE."""
    emu = CbrEmulator(scenario(delete_duration_s=QUICK), seed=1)
    ours = backup(emu, vault_id=emu.vault_id("default"))
    other_vault = emu.vault_id("daily-policy")
    async with runner_on(emu) as (runner, _):
        tracked = await run_task(runner, ours, vault_id=other_vault)
    assert tracked.end.outcome is Outcome.FAILED and tracked.end.error_code == "vault_mismatch"
    assert other_vault in (tracked.end.error_message or "")
    assert emu.stats.deletes_by_target[ours] == 0 and emu.backup(ours) is not None


@pytest.mark.parametrize(("status", "mode"), [(200, "queued"), (202, "queued"), (204, "sync")])
async def test_any_2xx_is_accepted(status: int, mode: str) -> None:
    """Point 4: 200/202 with a body or 204; point 1: a synchronous deletion is gone at the first look."""
    emu = CbrEmulator(scenario(delete_status=status, delete_mode=mode, delete_duration_s=QUICK), seed=1)
    tracked = await track(emu, backup(emu))
    assert tracked.end.outcome is Outcome.DELETED and tracked.trace.attempts == 1


async def test_a_backup_that_is_not_there_is_already_absent() -> None:
    """404 BackupService.6200 to our first DELETE: nothing of ours applied, no look needed."""
    tracked = await track(CbrEmulator(scenario(), seed=1), MISSING)
    assert tracked.end == TaskEnd(Outcome.ALREADY_ABSENT)
    assert (tracked.trace.attempts, tracked.trace.polls) == (1, 0)
    assert tracked.events("task_already_absent")


async def test_the_confirmed_malformed_url_401_is_gone() -> None:
    """Point 6 (gone_answer 401): already absent for a missing backup, deleted for one we deleted."""
    emu = CbrEmulator(scenario(gone_answer="401", delete_duration_s=QUICK), seed=1)
    present = backup(emu)
    async with runner_on(emu) as (runner, client):
        missing = await run_task(runner, MISSING)
        deleted = await run_task(runner, present)
    assert missing.end.outcome is Outcome.ALREADY_ABSENT
    assert deleted.end.outcome is Outcome.DELETED
    assert client.calls["check_credentials"] >= 2


async def test_a_gateway_404_is_never_gone() -> None:
    """APIGW.0101 (a wrong path) is retried within the task time, then timed_out; never already_absent."""
    emu = CbrEmulator(scenario(), seed=1)
    policy = dataclasses.replace(POLICY, task_timeout_s=0.3)
    async with runner_on(emu, policy) as (runner, client):
        client.project_url = client.project_url.parent.parent / "v9" / client.project_url.name
        tracked = await run_task(runner, backup(emu))
    assert tracked.end.outcome is Outcome.TIMED_OUT and tracked.end.error_code == "task_timeout"
    assert "does not exist" in (tracked.end.error_message or "")
    assert tracked.trace.attempts > 1 and tracked.events("request_retry")


async def test_a_delete_that_answered_500_but_applied_counts_as_ours() -> None:
    """applied-500: the first DELETE deletes (sync) and answers 500; the retry's 404 means deleted."""
    emu = CbrEmulator(scenario(delete_mode="sync", faults=(CbrFaultRule("delete", "applied-500", times=1),)), seed=1)
    tracked = await track(emu, backup(emu))
    assert tracked.end.outcome is Outcome.DELETED and tracked.trace.attempts == 2


# -- busy, permanent, fatal -----------------------------------------------------------------------------

@pytest.mark.parametrize("over_limit", ["2003", "6216", "409"])
async def test_busy_answers_step_aside_until_the_delete_is_taken(over_limit: str) -> None:
    """over_limit refuses DELETEs past the per-user limit: busy, so the task steps aside (nothing of ours
    runs) and is sent again after its backoff, until the DELETE is taken; then deleted."""
    emu = CbrEmulator(scenario(deletions_per_user=1, over_limit=over_limit, delete_duration_s=(0.3, 0.3)), seed=1)
    first, ours = backup(emu), backup(emu)
    async with runner_on(emu) as (runner, client):
        await client.delete_backup(first)
        tracked = await run_task(runner, ours)
    assert tracked.end.outcome is Outcome.DELETED
    assert tracked.trace.attempts >= 2 and tracked.events("task_stepped_aside")
    assert not tracked.events("task_busy") and not tracked.events("task_resent")


async def test_a_repeated_delete_answered_2003_is_followed() -> None:
    """A DELETE dropped after it was applied, retried: CSBS.2003 (being processed) is followed to gone."""
    emu = CbrEmulator(scenario(delete_duration_s=QUICK, repeat_delete="2003",
                               faults=(CbrFaultRule("delete", "applied-500", times=1),)), seed=1)
    tracked = await track(emu, backup(emu))
    assert tracked.end.outcome is Outcome.DELETED and tracked.trace.attempts == 2
    assert tracked.events("task_busy")[0]["error_code"] == "CSBS.2003"


async def test_capped_busy_codes_fail_after_their_limit() -> None:
    """6201 (a child alone, child_delete refused) and 6112 (a frozen vault): busy 3 times, failed at the 4th."""
    emu = CbrEmulator(scenario(), seed=1)
    child = str(emu.add_backup(children=1)["children"][0]["id"])
    frozen = backup(emu, vault_id=str(emu.add_vault("frozen", billing_status="frozen")["id"]))
    async with runner_on(emu) as (runner, _):
        refused_child = await run_task(runner, child)
        refused_vault = await run_task(runner, frozen)
    for tracked, code in ((refused_child, "BackupService.6201"), (refused_vault, "BackupService.6112")):
        assert tracked.end.outcome is Outcome.FAILED and tracked.end.error_code == code
        assert tracked.end.http_status == 400 and "4 times" in (tracked.end.error_message or "")
        assert tracked.trace.attempts == 4 and len(tracked.events("task_stepped_aside")) == 3
    assert emu.backup(child) is not None and emu.backup(frozen) is not None


@pytest.mark.parametrize(("seed_fields", "code"), [
    ({"image_backed": True}, "BackupService.6204"),
    ({"auto": True, "locked": True, "expired_at": datetime.now(UTC) + timedelta(days=9)}, "BackupService.6220"),
    ({"shared": True}, "BackupService.6711"),
])
async def test_permanent_refusals_fail_at_once(seed_fields: dict[str, Any], code: str) -> None:
    """Image-backed, an automatic backup in a locked vault, a shared-in backup: one DELETE, no look, failed."""
    emu = CbrEmulator(scenario(shared_delete="6711"), seed=1)
    seed_fields = dict(seed_fields)
    if seed_fields.pop("locked", False):
        seed_fields["vault_id"] = str(emu.add_vault("worm", locked=True)["id"])
    target = backup(emu, **seed_fields)
    tracked = await track(emu, target)
    assert tracked.end.outcome is Outcome.FAILED and tracked.end.error_code == code
    assert (tracked.trace.attempts, tracked.trace.polls) == (1, 0)
    assert emu.stats.deletes_by_target[target] == 1 and tracked.events("task_failed")


async def test_refused_credentials_abort_the_run() -> None:
    """A 403 on the DELETE (forbidden user) or on a look (a withdrawn permission) is a RunAbort."""
    emu = CbrEmulator(scenario(forbidden_users=frozenset({USER})), seed=1)
    refused = await track(emu, backup(emu))
    assert isinstance(refused.ending, RunAbort) and "403" in refused.ending.reason
    emu = CbrEmulator(scenario(delete_duration_s=(1.0, 1.0), faults=(CbrFaultRule("get_backup", "403"),)), seed=1)
    withdrawn = await track(emu, backup(emu))
    assert isinstance(withdrawn.ending, RunAbort) and withdrawn.trace.polls == 1


async def test_throttled_and_transient_answers_are_retried() -> None:
    """429 twice on the DELETE and a 503 on a look: retried with backoff, then deleted."""
    emu = CbrEmulator(scenario(delete_duration_s=QUICK, faults=(
        CbrFaultRule("delete", "429", times=2), CbrFaultRule("get_backup", "503", times=1))), seed=1)
    tracked = await track(emu, backup(emu))
    assert tracked.end.outcome is Outcome.DELETED and tracked.trace.attempts == 3
    assert len(tracked.events("request_retry")) == 3 and len(tracked.events("task_submitted")) == 1


# -- fall-backs and re-sends ----------------------------------------------------------------------------

@pytest.mark.parametrize("fail_mode", ["available", "error"])
@pytest.mark.parametrize("logs", ["no failed log", "no logs at all"])
async def test_a_deletion_that_keeps_falling_back_fails_after_the_resends(fail_mode: str, logs: str) -> None:
    """Point 5 without an operation-log verdict: re-sent MAX_RESENDS times, then failed delete_failed."""
    emu = CbrEmulator(scenario(delete_duration_s=QUICK, fail_items=frozenset({TARGET}), fail_mode=fail_mode,
                               fail_logs=False, delete_logs=logs == "no failed log"), seed=1)
    target = backup(emu, backup_id=TARGET, children=1)
    tracked = await track(emu, target)
    assert tracked.end.outcome is Outcome.FAILED and tracked.end.error_code == "delete_failed"
    assert f"fell back to {fail_mode!r}" in (tracked.end.error_message or "")
    assert tracked.trace.attempts == 1 + MAX_RESENDS and len(tracked.events("task_resent")) == MAX_RESENDS
    assert not tracked.events("task_deleted") and emu.backup(target) is not None
    assert len(emu.delete_logs(target)) == 1 + MAX_RESENDS


async def test_a_failed_delete_log_that_says_try_again_is_sent_again_to_the_cap() -> None:
    """Point 7: the failed delete log of the backup (extra_info.delete.backup_id) says 6201, which the errors
    table reads as "try again": the backup, in ``error`` again, is re-sent up to the cap, and the task fails
    with the log's code and message."""
    emu = CbrEmulator(scenario(delete_duration_s=QUICK, fail_items=frozenset({TARGET}), fail_mode="error"), seed=1)
    target = backup(emu, backup_id=TARGET)
    other = backup(emu)  # a successful deletion in the same vault: its log is not ours
    async with runner_on(emu) as (runner, client):
        await client.delete_backup(other)
        tracked = await run_task(runner, target)
    assert tracked.end.outcome is Outcome.FAILED and tracked.end.error_code == "BackupService.6201"
    assert (tracked.end.error_message or "").startswith("The backup storage did not release the snapshot data.")
    assert tracked.trace.attempts == 1 + MAX_RESENDS and len(tracked.events("task_resent")) == MAX_RESENDS
    assert client.calls["list_operation_logs"] == 1 + MAX_RESENDS


@pytest.mark.parametrize("kind", ["500", "403"])
async def test_an_unreadable_operation_log_changes_nothing(kind: str) -> None:
    """A listing that fails (transient, or refused: no cbr:tasks:list) is no verdict: re-sends, then failed."""
    emu = CbrEmulator(scenario(delete_duration_s=QUICK, fail_items=frozenset({TARGET}),
                               faults=(CbrFaultRule("list_operation_logs", kind),)), seed=1)
    target = backup(emu, backup_id=TARGET)
    tracked = await track(emu, target, dataclasses.replace(POLICY, look_budget_s=0.1))
    assert tracked.end.outcome is Outcome.FAILED and tracked.end.error_code == "delete_failed"
    assert tracked.trace.attempts == 1 + MAX_RESENDS and len(tracked.events("task_oplog_unread")) == 1


async def test_a_deletion_that_fell_back_once_is_resent_and_deleted() -> None:
    """fail_rate: the first deletion fails back to available (no log), the re-sent one succeeds."""
    emu = CbrEmulator(scenario(delete_duration_s=QUICK, fail_rate=0.5, fail_logs=False), seed=FAIL_THEN_PASS_SEED)
    target = backup(emu)
    tracked = await track(emu, target)
    assert [log.status for log in emu.delete_logs(target)] == ["failed", "success"]
    assert tracked.end.outcome is Outcome.DELETED and tracked.trace.attempts == 2
    assert tracked.events("task_resent")[0]["reason"] == "backup fell back to available after its DELETE"


async def test_a_delete_lost_in_the_status_lag_is_resent_after_the_lag_window() -> None:
    """status_lag_s longer than the lag window: still available, so re-sent (204 again), then deleted."""
    emu = CbrEmulator(scenario(delete_duration_s=(0.4, 0.4), status_lag_s=0.3, repeat_delete="204"), seed=1)
    tracked = await track(emu, backup(emu))
    assert tracked.end.outcome is Outcome.DELETED and 2 <= tracked.trace.attempts <= 1 + MAX_RESENDS
    assert tracked.events("task_resent") and emu.stats.tasks_started == 1


async def test_no_resend_within_the_lag_window() -> None:
    """status_lag_s shorter than the lag window: one DELETE only."""
    emu = CbrEmulator(scenario(delete_duration_s=QUICK, status_lag_s=0.1), seed=1)
    tracked = await track(emu, backup(emu), dataclasses.replace(POLICY, lag_window_s=0.5))
    assert tracked.end.outcome is Outcome.DELETED and tracked.trace.attempts == 1


# -- unknown, timeouts, adoption, has_ended -------------------------------------------------------------

async def test_a_backup_in_a_status_the_service_refuses_steps_aside_to_the_timeout() -> None:
    """A status the docs do not list, in which the service answers the DELETE busy (6216): nothing of ours
    runs, so the task steps aside again and again, never looks, and fails at the task timeout naming the
    answer. (An unknown status after an accepted DELETE: tests/unit/test_cbr_rules.py.)"""
    emu = CbrEmulator(scenario(), seed=1)
    target = backup(emu)
    emu._store.backups[target].status = "error-deleting"  # no switch shows one: set it in the store
    tracked = await track(emu, target, dataclasses.replace(POLICY, task_timeout_s=0.4))
    assert tracked.end.outcome is Outcome.FAILED and tracked.end.error_code == "BackupService.6216"
    assert "nothing of ours was deleting it" in (tracked.end.error_message or "")
    assert tracked.trace.polls == 0 and tracked.trace.attempts > 2


async def test_a_stuck_deletion_times_out_with_its_last_state() -> None:
    """stuck_items: running forever; timed_out at the task timeout, progress kept in the trace."""
    emu = CbrEmulator(scenario(delete_duration_s=(0.2, 0.2), stuck_items=frozenset({TARGET})), seed=1)
    target = backup(emu, backup_id=TARGET)
    tracked = await track(emu, target, dataclasses.replace(POLICY, task_timeout_s=0.5))
    assert tracked.end.outcome is Outcome.TIMED_OUT and tracked.end.error_code == "task_timeout"
    assert "last seen 'deleting'" in (tracked.end.error_message or "")
    assert tracked.trace.state == "running" and tracked.trace.progress is not None
    assert tracked.trace.attempts == 1 and tracked.events("task_timed_out")


async def test_an_adopted_deletion_is_followed_without_a_delete() -> None:
    """adopted=True: no DELETE of ours, deleted when gone."""
    emu = CbrEmulator(scenario(delete_duration_s=QUICK), seed=1)
    target = backup(emu)
    async with runner_on(emu) as (runner, client):
        await client.delete_backup(target)
        tracked = await run_task(runner, target, adopted=True)
    assert tracked.end.outcome is Outcome.DELETED and tracked.trace.attempts == 0
    assert emu.stats.deletes_by_target[target] == 1 and tracked.events("task_adopted")


async def test_has_ended_is_one_bounded_look() -> None:
    """Running (stuck): False; gone or untouched: True; a look that keeps failing: False within its budget."""
    emu = CbrEmulator(scenario(stuck_items=frozenset({TARGET})), seed=1)
    stuck = backup(emu, backup_id=TARGET)
    idle = backup(emu)
    async with runner_on(emu) as (runner, client):
        await client.delete_backup(stuck)
        assert not await runner.has_ended(Spec("t", stuck))
        assert await runner.has_ended(Spec("t", idle))
        assert await runner.has_ended(Spec("t", MISSING))
    emu = CbrEmulator(scenario(faults=(CbrFaultRule("get_backup", "503"),)), seed=1)
    async with runner_on(emu, dataclasses.replace(POLICY, look_budget_s=0.2)) as (runner, client):
        clock = runner.clock
        started = clock.now()
        assert not await runner.has_ended(Spec("t", idle))
        assert clock.now() - started < 0.5 and client.calls["get_backup"] > 1
