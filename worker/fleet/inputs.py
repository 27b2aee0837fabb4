"""A target's plan or policy, read and checked whole as ``delete`` reads them, its errors naming the target.

A plan is read for the target's service and checked against its project (``worker.plan.read_plan``); a
policy is read by ``worker.retention.policy.load_policy``. Any fault is re-raised as the same error type
with ``fleet.yaml:LINE: target NAME:`` in front of the plan's or policy's own ``file:line: what``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from worker.errors import PlanError, PolicyError
from worker.fleet.file import FleetFile, TargetEntry
from worker.plan import Plan, read_plan
from worker.retention.policy import Policy, load_policy
from worker.services import registry
from worker.settings import Settings


@dataclass(frozen=True)
class TargetInput:
    """What a target deletes: a checked plan, or a policy to plan from once its backups are listed."""

    plan: Plan | None = None
    policy: Policy | None = None


def read_input(fleet: FleetFile, target: TargetEntry, settings: Settings,
               on_warning: Callable[[str], None]) -> TargetInput:
    """Read the target's plan (for its service and project) or its policy; warnings (a backup listed twice)
    go to ``on_warning``, prefixed with the target."""
    source = target.input
    who = f"{fleet.at(source.line)}: target {target.name}"
    if source.kind == "policy":
        try:
            return TargetInput(policy=load_policy(source.path))
        except PolicyError as error:
            raise PolicyError(f"{who}: {error}") from None
    try:
        plan = read_plan([source.path], project_id=settings.project_id,
                         service=registry.entries(settings.service),
                         on_warning=lambda warning: on_warning(f"{who}: {warning}"))
    except PlanError as error:
        raise PlanError(fleet.path, source.line, f"target {target.name}: {error}") from None
    return TargetInput(plan=plan)
