"""CBR's own readings of busy and ambiguous answers (docs/cbr-api.md, silent points 1-4): busy answers past
its limit followed, repeated DELETEs answered in three ways, a ghost accept where deletion is synchronous,
2xx answers with a body, and its time and code forms. What every service promises (the limit under random
faults, retries, stuck deletions, the status lag) is in tests/contract/test_faults.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cbr_delete.conftest import CBR, by_backup, delete_now, high_water, new_id, outcomes, seed, text_plan
from tests.harness import Run, cbr_emulator_on_loopback, cloud_env
from worker.emulator.cbr import CbrFaultRule


@pytest.mark.parametrize("delete_mode", ["sync"])  # queued, the default: tests/contract/test_faults.py
def test_ghost_accept_is_deleted(delete_mode: str, worker: Callable[..., Run]) -> None:
    """A DELETE that CBR applied but answered 500, where deletion is synchronous (gone at the 204): the
    retried DELETE meets the gone backup (404), and the task is deleted, never already_absent nor failed."""
    with cbr_emulator_on_loopback(faults=(CbrFaultRule("delete", "applied-500"),), delete_mode=delete_mode) as served:
        ids = seed(served, 3)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        stats = served.emulator.stats
        left = served.emulator.backup_ids()
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert all(stats.deletes_by_target[b] >= 2 for b in ids)
    assert stats.faults_by_kind["applied-500"] >= 3
    assert left == []


@pytest.mark.parametrize("over_limit", ["2003", "6216", "409", "429"])
def test_busy_answers_past_the_providers_limit_are_followed(over_limit: str, worker: Callable[..., Run]) -> None:
    """A CBR that runs two deletions per user and refuses the third with CSBS.2003, 6216, 409 or 429: a
    refused task steps aside (busy) or retries (429), is sent again, never failed, and all end deleted."""
    with cbr_emulator_on_loopback(deletions_per_user=2, over_limit=over_limit, delete_duration_s=(0.1, 0.2)) as served:
        ids = seed(served, 6)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        high = high_water(served)
        sent = sum(served.emulator.stats.deletes_by_target.values())
    assert run.code == 0, run.report
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert high <= 2
    assert sent > 6  # some were refused and sent again
    if over_limit == "429":
        assert run.named("request_retry")
    else:
        assert run.named("task_stepped_aside") and not run.named("task_busy")


@pytest.mark.parametrize("repeat", ["2003", "409", "204"])
def test_repeated_delete_answers_are_followed(repeat: str, worker: Callable[..., Run]) -> None:
    """A backup already being deleted that the run could not adopt (its listing of deletions in progress
    was refused). A second 204 is followed to the end (deleted). A busy answer (CSBS.2003, 409) started
    nothing of ours: the task steps aside and comes back until the backup is gone, already absent (the
    earlier deletion, not ours, removed it)."""
    skip_adoption = CbrFaultRule("list_backups", "403", times=1)
    with cbr_emulator_on_loopback(repeat_delete=repeat, delete_duration_s=(0.4, 0.5),
                                  faults=(skip_adoption,)) as served:
        ids = seed(served, 2)
        delete_now(served, ids[0])
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        sent = dict(served.emulator.stats.deletes_by_target)
    assert run.code == 0
    assert run.named("adoption_skipped")
    if repeat == "204":
        assert outcomes(run) == dict.fromkeys(ids, "deleted")
        assert sent[ids[0]] == 2
    else:
        assert outcomes(run) == {ids[0]: "already_absent", ids[1]: "deleted"}
        assert sent[ids[0]] >= 2
        assert {e["backup_id"] for e in run.named("task_stepped_aside")} == {ids[0]}


@pytest.mark.parametrize("status", [200, 202])
def test_delete_answered_with_a_body_is_accepted(status: int, worker: Callable[..., Run]) -> None:
    """Any 2xx DELETE answer is accepted, its body ignored (point 4)."""
    with cbr_emulator_on_loopback(delete_status=status) as served:
        ids = seed(served, 2)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")


@pytest.mark.parametrize(("time_form", "code_form"), [("naive", "bare"), ("z", "prefixed")])
def test_time_and_code_forms(time_form: str, code_form: str, worker: Callable[..., Run]) -> None:
    """Zone-less or Z times and bare error codes (6200, 6204) are read as the documented forms."""
    with cbr_emulator_on_loopback(time_form=time_form, code_form=code_form) as served:
        ids = seed(served, 2)
        (image,) = seed(served, 1, image_backed=True)
        absent = new_id()
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([*ids, image, absent]))
    assert run.code == 1
    assert outcomes(run) == {**dict.fromkeys(ids, "deleted"), image: "failed", absent: "already_absent"}
    assert by_backup(run)[image]["error_code"] in ("6204", "BackupService.6204")
