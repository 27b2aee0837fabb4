"""What every deleting command builds alike from a target's settings: how its tasks are followed."""

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
