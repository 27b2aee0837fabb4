"""What a fleet run is handed: its users, each with its targets, every input read and checked."""

from __future__ import annotations

from dataclasses import dataclass

from worker.plan import Plan
from worker.retention.policy import Policy
from worker.settings import Settings


@dataclass(frozen=True)
class FleetTarget:
    """One target: a project of one service, and what to delete there (a plan, or a policy to plan from)."""

    name: str
    user: str
    where: str  #: ``fleet.yaml:12``, the target's line, for messages
    #: the run's settings with this target's levels applied (service, endpoint, project_id, provider_id,
    #: task_timeout_s, poll_*, lag_window_s, max_deletions, and its user's concurrency and max_rps) and its
    #: user's sign-in (``credentials`` None against the emulator)
    settings: Settings
    plan: Plan | None  #: read and checked (exactly one of plan and policy is set)
    policy: Policy | None
    plan_path: str | None  #: as resolved from the fleet file's folder
    policy_path: str | None


@dataclass(frozen=True)
class FleetUser:
    """One IAM user: one pool of ``concurrency`` slots and one request rate over all its targets."""

    name: str
    index: int  #: its place in the file's ``users`` (the shard index)
    concurrency: int
    max_rps: float
    targets: tuple[FleetTarget, ...]


@dataclass(frozen=True)
class Fleet:
    """A checked fleet file: the users this run serves (all, or the one of ``--shard``/``--user``)."""

    path: str
    users: tuple[FleetUser, ...]
    user_count: int  #: users in the file (an Indexed Job's completions)
    #: what the run should warn about (values the fleet ignores, a concurrency above the provider's, a
    #: backup listed twice in a plan), each naming where
    warnings: tuple[str, ...] = ()
