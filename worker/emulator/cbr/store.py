"""The vaults, backups and delete operation logs of one project, and what a DELETE does to them.

A DELETE checks ``rules.refusal`` (and answers the scenario's ``busy_first_deletes`` of each backup 400
BackupService.6216), then (``delete_mode: queued``) hands one ``DeletionTask`` to the per-user
``TaskBoard`` (``deletions_per_user`` run, the rest wait): the backup shows ``waiting_delete``, then
``deleting`` with ``extend_info.progress`` rising (or staying 0, with ``progress_reported`` off), then it
and its children are gone (404). A failed deletion leaves the backup ``available`` or ``error`` (point 5).
With ``delete_mode: sync`` the backup is gone at the 204. Nothing runs in the background: every read first
replays the board up to now.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from worker.emulator.cbr import errors, rules
from worker.emulator.cbr.listing import BackupQuery, Paging, Window, cut
from worker.emulator.cbr.model import Backup, OpLog, Shown, Vault, render_backup, render_op_log, render_vault
from worker.emulator.cbr.scenario import CbrScenario
from worker.emulator.core.backup import reidentify
from worker.emulator.core.errors import ApiError
from worker.emulator.core.listing import SortedListings, ordered, still
from worker.emulator.core.stats import Stats
from worker.emulator.core.tasks import BusyFirst, DeletionTask, TaskBoard, TaskOwner
from worker.emulator.core.timebase import TimeBase

DELETE_FAILED = ("BackupService.6201", "The backup storage did not release the snapshot data.")


class CbrStore:
    """Vaults and backups by id, gone backups (for markers) and delete logs, of one project.

    Args:
        scenario: the switches.
        project_id: the project it holds (its JSON names it).
        timebase: the injected clock and its wall time.
        rng: seeded randomness for deletion durations and fates.
        stats: counts task starts and ends.
        board: where its deletions queue (the emulator's, maybe shared).
    """

    def __init__(self, scenario: CbrScenario, project_id: str, timebase: TimeBase, rng: random.Random,
                 stats: Stats, board: TaskBoard) -> None:
        self.project_id = project_id
        self._s = scenario
        self._time = timebase
        self._rng = rng
        self.vaults: dict[str, Vault] = {}
        self.backups: dict[str, Backup] = {}
        self._gone: dict[str, Backup] = {}
        self._logs: list[OpLog] = []
        self._checkpoints: dict[str, str] = {}  # every restore point ever seen -> its vault id
        self._listings: SortedListings[Backup] = SortedListings(lambda backup: backup.id)
        self.board = board
        self._owner = TaskOwner(self._task_ended, stats)
        self._busy_first = BusyFirst(scenario.busy_first_deletes, stats)

    # -- seeding ---------------------------------------------------------------------------------------

    def add_vault(self, vault: Vault) -> None:
        """Store a new vault."""
        if vault.id in self.vaults:
            raise ValueError(f"vault {vault.id} already exists")
        self.vaults[vault.id] = vault

    def add_backup(self, backup: Backup) -> None:
        """Store a new backup (a child after its parent); its id must be new and its vault known."""
        if backup.id in self.backups or backup.id in self._gone:
            raise ValueError(f"backup {backup.id} already exists")
        if backup.vault_id not in self.vaults:
            raise ValueError(f"vault {backup.vault_id} does not exist")
        if backup.parent_id:
            self.backups[backup.parent_id].children.append(backup.id)
        self.backups[backup.id] = backup
        self._listings.changed()
        self._checkpoints.setdefault(backup.checkpoint_id, backup.vault_id)

    def replace_identity(self, backup_id: str, created_at: datetime | None, resource_id: str | None) -> None:
        """Another creation time or resource for an existing backup (``BaseEmulator.replace_identity``)."""
        reidentify(self.backups[backup_id], created_at, resource_id)
        self._listings.changed()  # the cached listings sorted it by its old time

    # -- reading ---------------------------------------------------------------------------------------

    def advance(self) -> float:
        """Replay deletions up to now; returns now."""
        now = self._time.now()
        self.board.advance(now)
        return now

    def get_backup(self, backup_id: str) -> dict[str, Any]:
        """One backup's JSON; the scenario's gone answer if it does not exist (any more)."""
        now = self.advance()
        return self._render(self._existing(backup_id), now)

    def list_backups(self, query: BackupQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of backups and how many pass the filters."""
        now = self.advance()
        paging = query.paging

        def build() -> list[Backup]:
            return ordered([b for b in self.backups.values() if self._passes(query, b, now)], query.sort,
                           self._sort_key(now))

        if not query.statuses and still(query.sort):  # the answer depends only on which backups exist
            key = (tuple(sorted(query.exact.items())), query.own_type, query.window, query.sort)
            cached = self._listings.page(key, build, paging.marker, paging.offset, paging.limit)
            if cached is not None:
                page, total = cached
                return [self._render(b, now) for b in page], total
        selected = [b for b in self.backups.values() if self._passes(query, b, now)]
        rows = list(selected)
        marker = paging.marker
        if marker is not None and marker not in {b.id for b in rows}:
            anchor = self.backups.get(marker) or self._gone.get(marker)
            rows += [anchor] if anchor is not None else []
        rows = ordered(rows, query.sort, self._sort_key(now))
        return [self._render(b, now) for b in cut(rows, paging, lambda b: b.id)], len(selected)

    def get_vault(self, vault_id: str) -> dict[str, Any]:
        """One vault's JSON; 404 BackupService.6105 if unknown."""
        self.advance()
        vault = self.vaults.get(vault_id)
        if vault is None:
            raise errors.vault_not_found(vault_id)
        return self._render_vault(vault)

    def list_vaults(self, paging: Paging, name: str | None, vault_id: str | None) -> tuple[list[dict[str, Any]], int]:
        """One page of vaults (oldest first) and how many pass the filters."""
        self.advance()
        selected = [v for v in self.vaults.values()
                    if (name is None or v.name == name) and (vault_id is None or v.id == vault_id)]
        page = cut(selected, paging, lambda v: v.id)
        return [self._render_vault(v) for v in page], len(selected)

    def get_checkpoint(self, checkpoint_id: str) -> dict[str, Any]:
        """A restore point: its backups' vault and resources; after they are all gone, 404 or ``deleted``."""
        now = self.advance()
        vault_id = self._checkpoints.get(checkpoint_id)
        if vault_id is None:
            raise self._gone_error(checkpoint_id, errors.checkpoint_not_found)
        backups = [b for b in self.backups.values() if b.checkpoint_id == checkpoint_id and not b.parent_id]
        if not backups and self._s.checkpoint_after == "404":
            raise self._gone_error(checkpoint_id, errors.checkpoint_not_found)
        statuses = {self._shown(b, now).status for b in backups}
        status = "deleted" if not backups else "deleting" if statuses & {"deleting", "waiting_delete"} else "available"
        vault = self._render_vault(self.vaults[vault_id])
        return {"id": checkpoint_id, "status": status, "project_id": self.project_id,
                "created_at": vault["created_at"],
                "vault": {"id": vault_id, "name": vault["name"],
                          "resources": [] if not backups else vault["resources"], "skipped_resources": []},
                "extra_info": {"name": f"checkpoint_{checkpoint_id[:8]}", "description": "",
                               "retention_duration": -1}}

    def list_logs(self, paging: Paging, window: Window, filters: dict[str, str],
                  statuses: frozenset[str]) -> tuple[list[dict[str, Any]], int]:
        """One page of ``delete`` operation logs (newest first) and how many pass the filters."""
        self.advance()
        visible = [log for log in reversed(self._logs) if self._log_visible(log)]
        selected = [
            log for log in visible
            if window.holds(log.created_at) and (not statuses or log.status in statuses)
            and all(getattr(log, key) == value for key, value in filters.items())
        ]
        page = cut(selected, paging, lambda log: log.id)
        return [render_op_log(log, self.project_id, self._s.time_form) for log in page], len(selected)

    # -- deleting ----------------------------------------------------------------------------------------

    def delete(self, backup_id: str, user: str, request_id: str) -> None:
        """Queue (or, in sync mode, do) the deletion of one backup and its children; refuse as documented."""
        now = self.advance()
        backup = self._existing(backup_id)
        if backup.task is not None:
            repeat = rules.repeat_refusal(self._s, backup)
            if repeat is not None:
                raise repeat
            return
        refused = rules.refusal(self._s, backup, self.vaults[backup.vault_id], self._time.wall(now))
        if refused is not None:
            raise refused
        over = self._s.over_limit != "queue" and self.board.outstanding(user) >= self.board.slots_per_user
        if over:
            raise rules.over_limit_refusal(self._s, backup_id)
        if self._busy_first.refuses(backup_id):
            raise errors.in_use(backup_id)
        log = self._new_log(backup, request_id, now)
        if self._s.delete_mode == "sync":
            log.status, log.progress, log.started_at, log.ended_at = "success", 100, log.created_at, log.created_at
            self._remove(backup)
            return
        self._queue(backup, user, now, log)

    def _queue(self, backup: Backup, user: str, now: float, log: OpLog) -> None:
        s, rng = self._s, self._rng
        fails = backup.id in s.fail_items or bool(s.fail_rate and rng.random() < s.fail_rate)
        task = DeletionTask(
            task_id=log.id, user=user, item_ids=(backup.id,), queued_at=now,
            duration_s=rng.uniform(*s.delete_duration_s), failing=frozenset({backup.id}) if fails else frozenset(),
            stuck_at=rng.uniform(0.1, 0.9) if backup.id in s.stuck_items else None,
            reports_progress=s.progress_reported,
        )
        log.task = task
        for held in self._family(backup):
            held.task = task
            held.lag_until = now + s.status_lag_s if s.status_lag_s else None
        self.board.submit(task, self._owner)

    def _task_ended(self, task: DeletionTask) -> None:
        """Apply a deletion's end at its end time: gone with its children, or fallen back (point 5)."""
        end = task.ended_at if task.ended_at is not None else self._time.now()
        log = next(log for log in self._logs if log.task is task)
        log.task, log.ended_at = None, self._time.wall(end)
        log.started_at = self._time.wall(task.started_at if task.started_at is not None else end)
        backup = self.backups.get(task.item_ids[0])
        if backup is None:
            return
        if backup.id not in task.failing:
            log.status, log.progress = "success", 100
            self._remove(backup)
            return
        log.status, log.progress = "failed", task.progress(end)
        log.error_code, log.error_message = DELETE_FAILED
        for held in self._family(backup):
            held.task, held.lag_until = None, None
            held.status, held.updated_at = self._s.fail_mode, self._time.wall(end)

    # -- inside ------------------------------------------------------------------------------------------

    def _existing(self, backup_id: str) -> Backup:
        backup = self.backups.get(backup_id)
        if backup is None:
            raise self._gone_error(backup_id, errors.backup_not_found)
        return backup

    def _gone_error(self, what: str, not_found: Callable[[str], ApiError]) -> ApiError:
        """404 (BackupService.6200) or the 401 "Malformed request url" (point 6)."""
        return errors.malformed_url() if self._s.gone_answer == "401" else not_found(what)

    def _family(self, backup: Backup) -> list[Backup]:
        """The backup and its children that still exist."""
        return [backup, *(self.backups[c] for c in backup.children if c in self.backups)]

    def _remove(self, backup: Backup) -> None:
        for gone in self._family(backup):
            self._gone[gone.id] = gone
            del self.backups[gone.id]
        self._listings.changed()
        if backup.parent_id in self.backups:
            self.backups[backup.parent_id].children.remove(backup.id)

    def _new_log(self, backup: Backup, request_id: str, now: float) -> OpLog:
        vault = self.vaults[backup.vault_id]
        log = OpLog(
            id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)), backup_id=backup.id,
            backup_name=backup.name, checkpoint_id=backup.checkpoint_id, vault_id=vault.id, vault_name=vault.name,
            resource_id=backup.resource_id, resource_name=backup.resource_name,
            resource_type=backup.resource_type, created_at=self._time.wall(now),
            request_id=request_id if self._s.log_request_id else f"req-{uuid.uuid4()}",
        )
        self._logs.append(log)
        return log

    def _log_visible(self, log: OpLog) -> bool:
        """Point 7: logs of API deletions may not exist at all, and failed ones may leave none."""
        if not self._s.delete_logs:
            return False
        task = log.task
        if task is not None and task.started_at is None:
            log.status, log.progress = "waiting", 0
        elif task is not None and task.started_at is not None:
            log.status, log.progress = "running", task.progress(self._time.now())
            log.started_at = self._time.wall(task.started_at)
        return log.status != "failed" or self._s.fail_logs

    def _passes(self, query: BackupQuery, backup: Backup, now: float) -> bool:
        exact = query.exact
        if "parent_id" not in exact and backup.parent_id and not self._s.children_listed:
            return False
        own = not backup.owner_project
        if (query.own_type == "private" and not own) or (query.own_type == "shared" and own):
            return False
        if query.statuses and self._shown(backup, now).status not in query.statuses:
            return False
        if not query.window.holds(backup.created_at):
            return False
        return all(str(getattr(backup, key, "backup" if key == "image_type" else "")) == value
                   for key, value in exact.items())

    def _sort_key(self, now: float) -> Callable[[str], Callable[[Backup], Any]]:
        """Reads a sort key of a backup as a reader sees it ``now``."""
        return lambda key: lambda backup: self._sort_value(backup, key, now)

    def _sort_value(self, backup: Backup, key: str, now: float) -> Any:
        if key == "status":
            return self._shown(backup, now).status
        if key == "updated_at":
            return self._shown(backup, now).updated_at
        return backup.created_at if key == "protected_at" else getattr(backup, key)

    def _shown(self, backup: Backup, now: float) -> Shown:
        """The status a reader sees now: the deletion's while one holds it (after the status lag)."""
        task = backup.task
        updated = backup.updated_at or backup.created_at
        if task is None or (backup.lag_until is not None and now < backup.lag_until):
            return Shown(backup.status, None, updated)
        if task.started_at is None:
            return Shown("waiting_delete", 0, self._time.wall(task.queued_at))
        return Shown("deleting", task.progress(now), self._time.wall(task.started_at))

    def _render(self, backup: Backup, now: float) -> dict[str, Any]:
        children = [self._render(self.backups[c], now) for c in backup.children if c in self.backups]
        return render_backup(backup, self._shown(backup, now), self.project_id, children, self._s.time_form)

    def _render_vault(self, vault: Vault) -> dict[str, Any]:
        held = [b for b in self.backups.values() if b.vault_id == vault.id and not b.parent_id]
        return render_vault(vault, self.project_id, held, self._s.time_form)

    def logs_of(self, backup_ids: Iterable[str]) -> list[OpLog]:
        """The delete logs of these backups (for tests)."""
        wanted = set(backup_ids)
        return [log for log in self._logs if log.backup_id in wanted]
