"""What the emulated cloud is like: credentials, task timing, the readings of the silent points, faults.

A ``Scenario`` is a frozen value; every field but ``project_id`` has a default, so a test names only what
it cares about. ``Scenario.from_yaml`` reads the same fields from a file (``config/scenario.example.yaml``
documents each key) and rejects unknown keys with a message that names the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from worker.emulator.core.errors import ERROR_SHAPES, ErrorShape
from worker.emulator.core.scenario import (
    BaseFaultRule,
    BaseScenario,
    ScenarioError,
    check_busy_first,
    check_duration,
)

CSBS_PROVIDER_ID = "fc4d5750-22e7-4798-8a46-f48f62c4c1da"

GoneMode = Literal["404", "deleted"]
BusyMode = Literal["400", "409"]

FAULT_ROUTES = frozenset({"auth", "delete", "get_item", "list", "count", "*"})
FAULT_KINDS = frozenset({
    "401", "403", "429", "429-retry-after", "500", "503", "drop", "slow", "applied-500",
    "404-apigw", "404-apig", "404-html", "empty-page", "vanished-marker",
})
GATEWAY_404 = ("none", "apigw", "apig", "html")
PROGRESS_FORMATS = ("int", "float", "string")
VANISHED_MARKER = ("page", "404")


@dataclass(frozen=True, slots=True)
class FaultRule(BaseFaultRule):
    """One injected fault on the CSBS routes (the fields are ``BaseFaultRule``'s).

    Args:
        route: ``auth``, ``delete``, ``get_item``, ``list``, ``count`` or ``*`` (every route).
        kind: ``429`` (APIG.0308, no Retry-After), ``429-retry-after`` (with ``Retry-After``), ``500``
            (CSBS.9999), ``503``, ``drop`` (close the connection unanswered), ``slow`` (answer normally
            after ``delay_s``), ``applied-500`` (do the work, then answer 500 CSBS.9999), ``401`` (APIG.0301:
            credentials revoked mid-run), ``403`` (permission withdrawn mid-run), ``404-apigw`` / ``404-apig``
            / ``404-html`` (the gateway's 404 for an API it does not serve: APIGW.0101, APIG.0101 or an HTML
            page, e.g. after a good preflight); on ``list``: ``empty-page`` (the page answers no backups, as at
            the end of the listing) and ``vanished-marker`` (a page asked with a ``marker`` answers 404
            CSBS.3001, as for a marker whose backup was deleted since; a page without one answers as usual).
    """

    ROUTES: ClassVar[frozenset[str]] = FAULT_ROUTES
    KINDS: ClassVar[frozenset[str]] = FAULT_KINDS


@dataclass(frozen=True, slots=True)
class OddStatus:
    """A status the API documents nowhere, shown by some backups while they are being deleted.

    Args:
        status: what GET and list show instead of ``waiting_delete`` / ``deleting`` (e.g. ``error-deleting``).
        items: backup ids that show it whenever a deletion holds them.
        rate: probability that any other deletion task shows it for its backups (seeded, per task).

    The task still ends as it would (gone, ``deleted``, ``error``); a stuck one shows the status forever.
    """

    status: str = "error-deleting"
    items: frozenset[str] = frozenset()
    rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ScenarioError(f"odd_status rate {self.rate} is not between 0 and 1")
        object.__setattr__(self, "items", frozenset(str(i) for i in self.items))


@dataclass(frozen=True, slots=True)
class Scenario(BaseScenario):
    """How the emulated CSBS behaves. Units are in the names; ids are compared as given.

    Args:
        project_id, tokens, users, access_keys, token_ttl_s, sdk_date_skew_s, ak_lock_failures, ak_lock_s:
            the credentials (``BaseScenario``).
        provider_id: the provider id DELETE paths must carry (else 400 CSBS.9001).
        tasks_per_user: deletion tasks that run at once per user; later ones wait (``waiting_delete``).
        delete_duration_s: (min, max) running time of one deletion task, drawn per task (seeded).
        gone_mode: what a finished deletion leaves: ``404`` (CSBS.3001) or ``deleted`` (the item lingers
            with status ``deleted`` for ``deleted_linger_s``, then 404).
        deleted_linger_s: see ``gone_mode``.
        busy_mode: the answer to a DELETE of something being deleted, backed up or restored:
            ``400`` (CSBS.2003) or ``409``.
        status_lag_s: for this long after a DELETE, GET and list still show the status from before it.
        progress_reported: False = a service that reports no progress: ``extend_info.progress`` stays 0
            while a backup waits or is being deleted (GET and list); the deletion still ends on time.
        busy_first_deletes: the first N DELETEs of each backup (``?checkpoint_items=``) or record (a
            whole-record DELETE) that would start a deletion answer busy instead (as ``busy_mode`` says)
            and start nothing, as when the backup is briefly in use; counted in
            ``Stats.faults_by_kind["busy-first"]``.
        fail_items: item ids whose deletion always ends in ``error``.
        fail_rate: probability that the deletion of any other item ends in ``error`` (seeded).
        stuck_items: item ids whose deletion task never ends (and keeps its slot).
        stuck_rate: probability that a deletion task gets stuck (seeded).
        image_items: item ids registered to an image: DELETE answers 400 CSBS.8007.
        disabled_projects: projects refused with 400 BackupService.4008 on every call.
        forbidden_tokens: tokens that authenticate but get 403 on every CSBS call.
        forbidden_users: users (queue user ids) that get 403 on every CSBS call.
        faults: fault rules, checked in order; the first that fires decides.
        gateway_404: a wrong endpoint: every route answers the gateway's 404, ``apigw`` (APIGW.0101),
            ``apig`` (APIG.0101) or ``html`` (an HTML page); ``none`` serves the API.
        error_shape: the body of every error answer: ``error_code``, ``error``, ``errorCode``, ``code`` or
            ``openstack`` (see ``worker.emulator.core.errors``).
        request_id_in_body: error answers carry ``request_id`` in the body, and no answer has an
            ``X-Request-Id`` header.
        progress_format: ``extend_info.progress`` as an ``int`` (42), a ``float`` (42.0) or a numeric
            ``string`` ("42").
        fail_code_numeric: ``extend_info.fail_code.Code`` as a number (2006) instead of text ("2006").
        odd_status: an undocumented status some backups show while being deleted (``OddStatus``).
        stale_failed_items: backup ids (planned or seeded) that start as left by an earlier failed deletion:
            ``error`` with ``fail_op`` delete and an old ``fail_reason``, ``updated_at``, ``finished_at``,
            ``taskid`` (see ``Emulator.add_item(stale_delete_failure=True)``).
        vanished_marker: a listing whose ``marker`` names a backup deleted since: ``page`` (the page after
            where it stood) or ``404`` (404 CSBS.3001, as OpenStack services answer; in the ``openstack``
            error shape that is ``{"itemNotFound": {"code": 404, ...}}``).
    """

    ID_SETS: ClassVar[frozenset[str]] = frozenset({
        "fail_items", "stuck_items", "image_items", "disabled_projects", "forbidden_tokens", "forbidden_users",
        "stale_failed_items",
    })
    TEXTS: ClassVar[frozenset[str]] = frozenset({"gone_mode", "busy_mode", "project_id", "provider_id",
                                                 "vanished_marker"})
    OPTIONAL: ClassVar[Mapping[str, type[Any]]] = {"odd_status": OddStatus}
    FAULT_RULE: ClassVar[type[BaseFaultRule]] = FaultRule

    provider_id: str = CSBS_PROVIDER_ID
    tasks_per_user: int = 5
    delete_duration_s: tuple[float, float] = (1.0, 5.0)
    gone_mode: GoneMode = "404"
    deleted_linger_s: float = 60.0
    busy_mode: BusyMode = "400"
    status_lag_s: float = 0.0
    progress_reported: bool = True
    busy_first_deletes: int = 0
    fail_items: frozenset[str] = frozenset()
    fail_rate: float = 0.0
    stuck_items: frozenset[str] = frozenset()
    stuck_rate: float = 0.0
    image_items: frozenset[str] = frozenset()
    disabled_projects: frozenset[str] = frozenset()
    forbidden_tokens: frozenset[str] = field(default=frozenset(), repr=False)
    forbidden_users: frozenset[str] = frozenset()
    faults: tuple[FaultRule, ...] = ()
    gateway_404: str = "none"
    error_shape: ErrorShape = "error_code"
    request_id_in_body: bool = False
    progress_format: str = "int"
    fail_code_numeric: bool = False
    odd_status: OddStatus | None = None
    stale_failed_items: frozenset[str] = frozenset()
    vanished_marker: str = "page"

    def __post_init__(self) -> None:
        _check_scenario(self)


def _check_scenario(s: Scenario) -> None:
    """Reject values that cannot describe a cloud (negative times, rates outside 0..1, bad modes)."""
    check_duration(s.delete_duration_s)
    check_busy_first(s.busy_first_deletes)
    if s.gone_mode not in ("404", "deleted"):
        raise ScenarioError(f"gone_mode {s.gone_mode!r} must be '404' or 'deleted'")
    if s.busy_mode not in ("400", "409"):
        raise ScenarioError(f"busy_mode {s.busy_mode!r} must be '400' or '409'")
    for name in ("fail_rate", "stuck_rate"):
        if not 0.0 <= getattr(s, name) <= 1.0:
            raise ScenarioError(f"{name} must be between 0 and 1")
    for name in ("token_ttl_s", "sdk_date_skew_s", "ak_lock_s", "deleted_linger_s", "status_lag_s"):
        if getattr(s, name) < 0:
            raise ScenarioError(f"{name} must not be negative")
    for name, allowed in (("gateway_404", GATEWAY_404), ("error_shape", ERROR_SHAPES),
                          ("progress_format", PROGRESS_FORMATS), ("vanished_marker", VANISHED_MARKER)):
        if getattr(s, name) not in allowed:
            raise ScenarioError(f"{name} {getattr(s, name)!r} must be one of {', '.join(allowed)}")
    if s.tasks_per_user < 1 or s.ak_lock_failures < 0:
        raise ScenarioError("tasks_per_user must be at least 1 and ak_lock_failures not negative")
