"""What the emulated CBR is like: credentials, deletion timing, and one switch per silent point.

``CbrScenario`` is a frozen value like the CSBS ``Scenario``: every field but ``project_id`` has a default,
so a test names only what it cares about. The switches are the readings of the points where the public
material is silent (``docs/cbr-api.md``, last section); each field's docstring names its point.
``CbrScenario.from_yaml`` reads the same keys (``config/scenario.cbr.example.yaml`` documents each one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from worker.emulator.core.scenario import (
    BaseFaultRule,
    BaseScenario,
    ScenarioError,
    check_busy_first,
    check_credentials,
    check_duration,
)

DeleteMode = Literal["queued", "sync"]
FailMode = Literal["available", "error"]
GoneAnswer = Literal["404", "401"]
RepeatDelete = Literal["2003", "409", "204"]
OverLimit = Literal["queue", "2003", "6216", "409", "429"]
SharedDelete = Literal["403", "6711"]
CheckpointAfter = Literal["404", "deleted"]
ChildDelete = Literal["refused", "alone"]
TimeForm = Literal["offset", "naive", "z"]
CodeForm = Literal["prefixed", "bare"]

FAULT_ROUTES = frozenset({
    "auth", "delete", "get_backup", "list_backups", "get_checkpoint", "list_vaults", "get_vault",
    "list_operation_logs", "*",
})
FAULT_KINDS = frozenset({"401", "403", "429", "429-retry-after", "500", "503", "drop", "slow", "applied-500",
                         "empty-page"})

_CHOICES: dict[str, tuple[str, ...]] = {
    "delete_mode": ("queued", "sync"), "fail_mode": ("available", "error"), "gone_answer": ("404", "401"),
    "repeat_delete": ("2003", "409", "204"), "over_limit": ("queue", "2003", "6216", "409", "429"),
    "shared_delete": ("403", "6711"), "checkpoint_after": ("404", "deleted"),
    "child_delete": ("refused", "alone"), "time_form": ("offset", "naive", "z"),
    "code_form": ("prefixed", "bare"),
}


@dataclass(frozen=True, slots=True)
class CbrFaultRule(BaseFaultRule):
    """One injected fault on the CBR routes (the fields are ``BaseFaultRule``'s).

    Args:
        route: one of ``FAULT_ROUTES`` (``*`` = every route).
        kind: ``429`` (APIG.0308), ``429-retry-after``, ``500`` (BackupService.9910), ``503``, ``drop``,
            ``slow``, ``applied-500`` (do the work, then answer 500), ``401``, ``403``; on a listing
            (``list_backups``, ``list_vaults``, ``list_operation_logs``): ``empty-page`` (the page answers no
            rows, as at the end of the listing, while ``count`` still says the total).
    """

    ROUTES: ClassVar[frozenset[str]] = FAULT_ROUTES
    KINDS: ClassVar[frozenset[str]] = FAULT_KINDS


@dataclass(frozen=True, slots=True)
class CbrScenario(BaseScenario):
    """How the emulated CBR behaves. Point numbers refer to ``docs/cbr-api.md``, last section.

    Args:
        project_id, tokens, users, access_keys, token_ttl_s, sdk_date_skew_s, ak_lock_failures, ak_lock_s:
            the credentials (``BaseScenario``); the project holds the vaults and backups.
        forbidden_users: users (queue ids) answered 403 on every CBR call.
        deletions_per_user: deletions that run at once per user (point 3); later ones wait.
        delete_duration_s: (min, max) running time of one deletion, drawn per deletion (seeded).
        delete_mode: point 1: ``queued`` (waiting_delete, deleting, then 404) or ``sync`` (gone at the 204).
        delete_status: point 4: the DELETE's success status, 204 (no body) or 200/202 (with a JSON body).
        over_limit: point 3: ``queue`` the deletions past ``deletions_per_user``, or refuse them with
            400 CSBS.2003, 400 BackupService.6216, 409 or 429.
        repeat_delete: a DELETE of a backup already being deleted: 400 ``2003`` (CSBS.2003), ``409``,
            or ``204`` (accepted again, nothing new queued).
        fail_items, fail_rate: deletions that fail (the ids always; any other with this probability).
        fail_mode: point 5: a failed deletion leaves the backup ``available`` or in ``error``.
        fail_logs: point 5/7: a failed deletion writes a ``delete`` operation log (status failed, error_info).
        delete_logs: point 7: deletions write ``delete`` operation logs at all (for an API delete).
        log_request_id: point 7: ``extra_info.common.request_id`` equals the DELETE's ``X-Request-Id``.
        stuck_items: backups whose deletion never ends (it keeps its slot).
        status_lag_s: for this long after a DELETE, reads still show the backup as before it.
        progress_reported: False = a service that reports no progress: ``extend_info.progress`` (and a
            running delete log's ``progress``) stays 0 while a backup waits or is being deleted; the
            deletion still ends on time.
        busy_first_deletes: the first N DELETEs of each backup that would start its deletion answer 400
            BackupService.6216 (in use, try again later) instead and start nothing; counted in
            ``Stats.faults_by_kind["busy-first"]``.
        gone_answer: point 6: a backup that does not exist answers 404 BackupService.6200, or 401
            ``{"unauthorized": {"code": "401", "message": "Malformed request url"}}``.
        checkpoint_after: point 2: a restore point whose backups are all gone answers 404, or 200 ``deleted``.
        child_delete: point 8: children always go with their parent; a DELETE of a child alone is
            ``refused`` (400 BackupService.6201) or deletes that child ``alone``.
        children_listed: point 8: lists show children as entries of their own (with ``parent_id``);
            False = only a ``parent_id`` filter shows them.
        shared_delete: point 9: a recipient's DELETE of a shared-in backup answers ``403`` or 400 ``6711``.
        image_blocks: point 11: a backup with ``extend_info.os_images_data`` is refused with 400 BackupService.6204.
        offset_zero: point 13: ``accepted``, or ``refused`` (400 BackupService.9900: "a positive integer").
        count_is_total: point 13: the list's ``count`` is the total (True) or the page's size (False).
        time_form: point 14: ``offset`` (``...085+00:00``), ``naive`` (``...065135``) or ``z`` (``...32Z``).
        code_form: point 15: error codes ``prefixed`` (``BackupService.6200``) or ``bare`` (``6200``).
        faults: fault rules, checked in order; the first that fires decides.
    """

    ID_SETS: ClassVar[frozenset[str]] = frozenset({"fail_items", "stuck_items", "forbidden_users"})
    TEXTS: ClassVar[frozenset[str]] = frozenset({*_CHOICES, "project_id"})
    FAULT_RULE: ClassVar[type[BaseFaultRule]] = CbrFaultRule

    forbidden_users: frozenset[str] = frozenset()
    deletions_per_user: int = 5
    delete_duration_s: tuple[float, float] = (1.0, 5.0)
    delete_mode: DeleteMode = "queued"
    delete_status: int = 204
    over_limit: OverLimit = "queue"
    repeat_delete: RepeatDelete = "2003"
    fail_items: frozenset[str] = frozenset()
    fail_rate: float = 0.0
    fail_mode: FailMode = "available"
    fail_logs: bool = True
    delete_logs: bool = True
    log_request_id: bool = True
    stuck_items: frozenset[str] = frozenset()
    status_lag_s: float = 0.0
    progress_reported: bool = True
    busy_first_deletes: int = 0
    gone_answer: GoneAnswer = "404"
    checkpoint_after: CheckpointAfter = "404"
    child_delete: ChildDelete = "refused"
    children_listed: bool = True
    shared_delete: SharedDelete = "403"
    image_blocks: bool = True
    offset_zero: Literal["accepted", "refused"] = "accepted"
    count_is_total: bool = True
    time_form: TimeForm = "offset"
    code_form: CodeForm = "prefixed"
    faults: tuple[CbrFaultRule, ...] = ()

    def __post_init__(self) -> None:
        _check(self)


def _check(s: CbrScenario) -> None:
    """Reject values that cannot describe a cloud."""
    for name, allowed in _CHOICES.items():
        if getattr(s, name) not in allowed:
            raise ScenarioError(f"{name} {getattr(s, name)!r} must be one of {list(allowed)}")
    if s.offset_zero not in ("accepted", "refused"):
        raise ScenarioError("offset_zero must be 'accepted' or 'refused'")
    check_duration(s.delete_duration_s)
    check_busy_first(s.busy_first_deletes)
    if s.delete_status not in (200, 202, 204):
        raise ScenarioError("delete_status must be 200, 202 or 204")
    if not 0.0 <= s.fail_rate <= 1.0:
        raise ScenarioError("fail_rate must be between 0 and 1")
    if s.deletions_per_user < 1 or s.status_lag_s < 0 or s.token_ttl_s < 0:
        raise ScenarioError("deletions_per_user must be at least 1; times must not be negative")
    check_credentials(s)
