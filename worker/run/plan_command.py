"""``csbs-worker plan --policy FILE``: list, apply the policy, print the plan; nothing is deleted.

With ``--approvable`` (``--valid-for``) the plan is an approvable one (``worker.plan.approval``); its digest is
logged (``plan_digest``, on stderr) and written in its header comment.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import structlog

from worker.engine.outcomes import ExitCode
from worker.errors import CsbsWorkerError, UsageError
from worker.output import reader_may_leave
from worker.plan.approval import DEFAULT_VALID_FOR, Approving, iso_z, parse_valid_for, written_digest
from worker.retention.policy import load_policy
from worker.run.lifecycle import Lifecycle
from worker.run.request import PlanRequest
from worker.services import lookup
from worker.settings import Settings, require_cloud
from worker.stopping import StopRequests

log = structlog.get_logger()


class PlanRun(Lifecycle):
    """``csbs-worker plan``: list, apply the policy, print the plan (nothing is deleted)."""

    command = "plan"

    def __init__(self, request: PlanRequest, stops: StopRequests) -> None:
        super().__init__(request.flags, stops)
        self.request = request
        self.document: str | None = None

    async def phases(self, settings: Settings) -> None:
        policy = load_policy(self.request.policy)
        settings = require_cloud(settings)
        assert settings.endpoint is not None
        approving = self._approving(settings.endpoint)
        async with lookup.service(settings.service).open(settings, self.redactor) as session:
            await session.preflight(settings.preflight_budget_s)
            tasks, self.document = await session.plan_from_policy(policy, self.request.explain, approving)
        log.info("plan_ready", deletions=len(tasks), service=settings.service)
        if approving is not None:
            log.info("plan_digest", digest=written_digest(self.document),
                     valid_until=iso_z(approving.made_at + approving.valid_for),
                     detail="approve the plan by running it with: csbs-worker delete --expect-digest DIGEST PLAN")

    def _approving(self, endpoint: str) -> Approving | None:
        """What an approvable plan states, when ``--approvable`` asks for one (made now)."""
        request = self.request
        if not request.approvable:
            if request.valid_for is not None:
                raise UsageError("--valid-for goes with --approvable")
            return None
        try:
            valid_for = parse_valid_for(request.valid_for) if request.valid_for is not None else DEFAULT_VALID_FOR
        except ValueError as error:
            raise UsageError(f"--valid-for {error}") from None
        return Approving(endpoint, datetime.fromtimestamp(self.clock.wall(), UTC), valid_for)

    async def finish(self, settings: Settings, error: CsbsWorkerError | None) -> ExitCode:
        if error is not None:
            self.log_error(error)
            return error.exit_code
        if self.stopped or self.document is None:
            return ExitCode.STOPPED
        with reader_may_leave(sys.stdout, "plan") as out:  # `plan | head` is the reader's choice: still exit 0
            out.write(self.document)
        return ExitCode.OK
