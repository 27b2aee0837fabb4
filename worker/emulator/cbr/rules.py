"""Whether a DELETE of one backup may go ahead, and if not, which documented refusal it gets.

Checked in the order a careful service would: whose backup it is (point 9), whether it is a child
(point 8), whether a deletion already holds it, its status, its vault's status, the WORM lock (point 10),
an image made from it (point 11). ``docs/cbr-api.md`` does not give the service's own order.
"""

from __future__ import annotations

from datetime import datetime

from worker.emulator.cbr import errors
from worker.emulator.cbr.model import Backup, Vault
from worker.emulator.cbr.scenario import CbrScenario
from worker.emulator.core.backup import DELETABLE
from worker.emulator.core.errors import ApiError

_VAULT_BUSY = frozenset({"deleting", "frozen", "error"})


def refusal(scenario: CbrScenario, backup: Backup, vault: Vault, now: datetime) -> ApiError | None:
    """The error a DELETE of ``backup`` answers, or None if it may be deleted (a repeat is not checked here)."""
    if backup.owner_project:
        return errors.forbidden(f"backup {backup.id} is shared with this project, not owned by it") \
            if scenario.shared_delete == "403" else errors.shared_delete_failed(backup.id)
    if backup.parent_id and scenario.child_delete == "refused":
        return errors.cannot_delete(backup.id)
    if backup.status not in DELETABLE:
        return errors.in_use(backup.id)
    if vault.billing_status in _VAULT_BUSY:
        return errors.vault_status_invalid(vault.id, vault.billing_status)
    if vault.locked and backup.auto_trigger and (backup.expired_at is None or now < backup.expired_at):
        return errors.locked_auto_backup(backup.id)
    if scenario.image_blocks and backup.image_ids:
        return errors.image_backed(backup.id)
    return None


def repeat_refusal(scenario: CbrScenario, backup: Backup) -> ApiError | None:
    """The answer to a DELETE of a backup a deletion already holds; None = accept it again (204)."""
    if scenario.repeat_delete == "2003":
        return errors.being_processed(backup.id)
    if scenario.repeat_delete == "409":
        return errors.conflict(backup.id)
    return None


def over_limit_refusal(scenario: CbrScenario, backup_id: str) -> ApiError:
    """The refusal of a deletion past the per-user limit, when the scenario refuses instead of queueing."""
    if scenario.over_limit == "2003":
        return errors.being_processed(backup_id)
    if scenario.over_limit == "6216":
        return errors.in_use(backup_id)
    if scenario.over_limit == "409":
        return errors.conflict(backup_id)
    return errors.throttled(None)
