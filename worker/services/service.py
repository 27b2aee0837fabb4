"""What a service is to the run: the one protocol every service folder fills in (docs/design.md, "Services").

A run looks its service up in ``worker.services.registry`` by name and asks it for everything that differs
between services: the session over one open client (preflight probe, deletions already in progress, the task
loop's rules, the planner's listing and plan, the dry run's line for a task), how its plan entries read, and the
names of a task's two ids in the logs and the report. Slots, the task loop, outcomes, logs, report, metrics and
exit codes are the same for every service (``worker.engine``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Generic, Protocol, TypeVar

from asyncio_throttle.throttler import Throttler

from worker.engine.adoption import InProgress
from worker.engine.identity import PlannedIdentities
from worker.engine.retry import RetryPolicy
from worker.engine.tracking import ServiceRules, TaskSpec
from worker.plan import Task
from worker.plan.approval import Approving
from worker.plan.schema import EntrySchema
from worker.redact import Redactor
from worker.retention.policy import Policy
from worker.settings import Settings


class CloudSession(Protocol):
    """What a run asks of the service it talks to, over one open client."""

    @property
    def calls(self) -> Mapping[str, int]: ...

    @property
    def retry(self) -> RetryPolicy: ...

    async def preflight(self, budget_s: float) -> None: ...

    async def in_progress(self, plan: Sequence[Task], deadline: float) -> InProgress: ...

    def rules(self, planned: PlannedIdentities | None = None) -> ServiceRules: ...  # planned: an approvable plan's

    async def plan_from_policy(self, policy: Policy, explain: str | None,
                               approving: Approving | None = None) -> tuple[list[Task], str]: ...

    async def dry_run_line(self, task: Task, deadline: float) -> str: ...


class Service(Protocol):
    """One backup service: its name, how its plans and ids read, and its session."""

    @property
    def name(self) -> str: ...  # as in --service, the plan's ``service:`` and the report

    @property
    def entries(self) -> EntrySchema: ...  # how its plan entries read

    @property
    def id_keys(self) -> tuple[str, str]: ...  # a report row's names for (Task.container_id, Task.backup_id)

    def log_ids(self, spec: TaskSpec) -> dict[str, str | None]: ...  # the ids a task's log lines carry

    def open(self, settings: Settings, redactor: Redactor,
             throttler: Throttler | None = None) -> AbstractAsyncContextManager[CloudSession]: ...
    # ``throttler``: a rate limit shared with other sessions (a fleet user's), else the session's own


class _Client(Protocol):
    @property
    def calls(self) -> Mapping[str, int]: ...

    @property
    def retry(self) -> RetryPolicy: ...


C = TypeVar("C", bound=_Client)


class SessionBase(Generic[C]):
    """What every service's session holds: the run's one open client and the settings."""

    def __init__(self, client: C, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    @property
    def calls(self) -> Mapping[str, int]:
        return self.client.calls

    @property
    def retry(self) -> RetryPolicy:
        return self.client.retry

    @property
    def endpoint(self) -> str:
        assert self.settings.endpoint is not None
        return self.settings.endpoint
