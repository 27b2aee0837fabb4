"""The approval of a ``delete`` run's plan, checked once the plan is read and before anything is sent.

With ``--expect-digest`` (``CSBS_EXPECT_DIGEST``, config ``expect_digest``) the plan must be an approvable
plan with that digest, not expired, made for this run's service, project and endpoint: else exit 2 and
nothing is sent. An approvable plan run without it runs as any plan, with a warning (``plan_not_approved``)
that names its digest. Either way each of its backups is checked before its DELETE (``worker.engine.identity``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from worker.errors import UsageError
from worker.plan import Plan
from worker.plan.approval import Approval, iso_z
from worker.settings import Settings

log = structlog.get_logger()


def checked_approval(plan: Plan | None, settings: Settings, now_s: float) -> Approval | None:
    """The plan's approval, once checked against the settings (``now_s``: Unix time); ``UsageError`` when the run
    must not go on."""
    approval = plan.approval if plan is not None else None
    expected = settings.expect_digest
    if approval is None:
        if expected is not None:
            raise UsageError("--expect-digest (expect_digest) is set but the plan is not an approvable plan: make one "
                             "with csbs-worker plan --approvable, and approve its digest; nothing was deleted")
        return None
    fields = {"digest": approval.digest, "valid_until": iso_z(approval.valid_until), "endpoint": approval.endpoint}
    if expected is None:
        log.warning("plan_not_approved", **fields, detail="an approvable plan run without --expect-digest: its "
                    "digest, validity and endpoint are not checked (its backups are, before each DELETE)")
        return approval
    assert settings.endpoint is not None
    reason = approval.refusal(expected=expected, service=settings.service, project_id=settings.project_id,
                              endpoint=settings.endpoint, now=datetime.fromtimestamp(now_s, UTC))
    if reason is not None:
        raise UsageError(f"{approval.source}: {reason}; nothing was deleted")
    log.info("plan_approved", **fields)
    return approval
