"""Finding the deletions already running at the provider before the first DELETE (against the fake cloud)."""

from __future__ import annotations

from structlog.typing import EventDict

from tests.unit.fake_cloud import FakeCloud, available, queued, running, unavailable
from tests.unit.helpers import CLOCK, Spec, events, find_in_progress, item
from tests.virtual_time import run_virtual
from worker.engine.adoption import ForeignDeletion, InProgress


def test_the_plans_backups_are_adopted_and_the_others_are_foreign(logs: list[EventDict]) -> None:
    """One listing per status; a whole-record task is adopted when any backup of its record is being
    deleted; a deletion the plan does not name is foreign; the counts are logged."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", before=[queued()])
    cloud.add("r1", "cp-r", before=[running()])
    cloud.add("r2", "cp-r", before=[available()])
    cloud.add("b3")
    cloud.add("x9", before=[running()])
    plan = [item("b1"), Spec("cp-r", None), item("b3")]

    found = run_virtual(find_in_progress(cloud, plan, deadline=60.0))
    assert found == InProgress(frozenset({0, 1}), (ForeignDeletion("cp-x9", "x9"),))
    assert [call.target for call in cloud.calls] == ["status=waiting_delete", "status=deleting"]
    logged = events(logs, "deletions_in_progress")
    assert [(entry["adopted"], entry["foreign"]) for entry in logged] == [(2, 1)]


def test_nothing_being_deleted_adopts_nothing(logs: list[EventDict]) -> None:
    cloud = FakeCloud(CLOCK)
    cloud.add("b1")
    assert run_virtual(find_in_progress(cloud, [item("b1")], deadline=60.0)) == InProgress()
    assert logs == []


def test_a_listing_that_fails_skips_adoption(logs: list[EventDict]) -> None:
    """The second listing answers 503 (the client's own retries spent): nothing adopted, a warning, and the
    run goes on."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", before=[running()])
    cloud.listing_answers += [unavailable(), unavailable()]
    assert run_virtual(find_in_progress(cloud, [item("b1")], deadline=60.0)) == InProgress()
    skipped = events(logs, "adoption_skipped")
    assert [(entry["status"], entry["http_status"]) for entry in skipped] == [("waiting_delete", 503)]
