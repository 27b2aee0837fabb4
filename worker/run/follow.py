"""What every deleting command does alike with a target's settings: the size its plan may have, and how its
tasks are followed."""

from __future__ import annotations

from worker.engine.clock import Clock
from worker.engine.identity import PlannedIdentities
from worker.engine.pacing import PollTiming
from worker.engine.tracking import TaskRunner, TrackingPolicy
from worker.services.service import CloudSession
from worker.settings import Settings


def tracking_policy(settings: Settings, session: CloudSession) -> TrackingPolicy:
    """The task timeout, lag window, poll timing and retries of one target (docs/settings.md)."""
    return TrackingPolicy(
        task_timeout_s=settings.task_timeout_s, lag_window_s=settings.lag_window_s,
        timing=PollTiming(settings.poll_first_s, settings.poll_min_s, settings.poll_max_s),
        retry=session.retry, look_budget_s=settings.preflight_budget_s)


def task_runner(settings: Settings, session: CloudSession, clock: Clock,
                planned: PlannedIdentities | None = None) -> TaskRunner:
    """The task loop over one target's session, with its service's rules (checking each backup against an
    approvable plan's ``planned`` identities before its first DELETE)."""
    return TaskRunner(session.rules(planned), tracking_policy(settings, session), clock)


def oversized(count: int, settings: Settings, limit_name: str) -> str | None:
    """Why a plan of ``count`` deletion tasks is refused (more than ``max_deletions``, called ``limit_name`` in
    the message), or None when it may run."""
    limit = settings.max_deletions
    if limit is None or count <= limit:
        return None
    return f"the plan holds {count} deletion tasks, more than {limit_name} {limit}"
