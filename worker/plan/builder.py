"""Collecting the tasks of every source into one ``Plan``, merging duplicates as they come.

Duplicates are merged, never fatal: the same (checkpoint, item) twice, or an item whose whole record is
also listed (in any order, in any source), becomes one task. Deduplication uses a set of the 32-byte
records while reading (the record itself is the key, so no hash collision can merge two different tasks);
whole-record entries are kept in a dict from checkpoint id to task index, and items listed *before* their
whole record are dropped in one pass at the end. Each merge is reported through a warning naming both
places; only the first ``MAX_DUPLICATE_WARNINGS`` are itemised, then one summary gives the total.
Warnings are given only for a valid plan (an invalid one gets its error alone).

A CBR plan (``service="cbr"``) holds backups only: a dict from backup id to task index merges a backup
listed twice. Its ``vault_id`` is a check, so two entries of one backup naming different vaults are an
error naming both lines; when only one of them names a vault, the task keeps that vault as its check.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Final

from worker.errors import PlanError
from worker.plan.model import ID_BYTES, ITEM, NO_ITEM, NO_VAULT, RECORD, WHOLE, Plan, format_uuid
from worker.plan.schema import RECORD_ENTRIES, EntrySchema
from worker.yamlsource import quote

if TYPE_CHECKING:
    from worker.plan.approval import Approval

MAX_DUPLICATE_WARNINGS: Final = 20  # itemised duplicate warnings; the rest are only counted


class PlanBuilder:
    """Collects the tasks of every source compactly; the format readers feed it."""

    def __init__(self, project_id: str | None, schema: EntrySchema = RECORD_ENTRIES) -> None:
        self.schema = schema  # the run's service's entries, which every source must be for
        self.service = schema.service
        self.sources: list[str] = []
        self.starts: list[int] = []
        self.keys = bytearray()  # one RECORD per task: checkpoint id + item id (zeros: whole record)
        self.whole = bytearray()  # the kind flag of each task: WHOLE, ITEM or (CBR) NO_VAULT
        self.lines = array("I")
        self.warnings: list[str] = []
        self._seen: set[bytes] = set()  # the records of single-backup tasks
        self._whole_at: dict[bytes, int] = {}  # checkpoint id -> index of its whole-record task
        self._backup_at: dict[bytes, int] = {}  # CBR: backup id -> index of its task
        self._duplicates = 0
        self._project_id = project_id
        self._declared: tuple[str, str] | None = None  # (project id, where) of the first declaration
        self.approval: Approval | None = None  # an approvable plan's (``worker.plan.approval_yaml``)

    @property
    def source(self) -> str:
        """The source being read."""
        return self.sources[-1]

    def begin_source(self, name: str) -> None:
        """Start the tasks of the next source."""
        if self.approval is not None:
            raise PlanError(name, None, "an approvable plan is read alone: give it as the only PLAN")
        self.sources.append(name)
        self.starts.append(len(self.whole))

    def error(self, line: int | None, message: str) -> PlanError:
        """A fault at this line of the source being read."""
        return PlanError(self.source, line, message)

    def finish(self) -> Plan:
        """Drop items covered by a later whole record, add the summary warning, and make the plan."""
        self._seen, self._backup_at = set(), {}  # no longer needed: free them before the plan lives on
        if self._whole_at and len(self._whole_at) < len(self.whole):
            self._drop_covered_items()
        if self._duplicates > MAX_DUPLICATE_WARNINGS:
            self.warnings.append(
                f"{self._duplicates} duplicate tasks were merged in total "
                f"(only the first {MAX_DUPLICATE_WARNINGS} are listed)"
            )
        declared = self._declared[0] if self._declared else None
        plan = Plan(
            sources=tuple(self.sources),
            starts=self.starts,
            keys=self.keys,
            whole=self.whole,
            lines=self.lines,
            project_id=declared,
            service=self.service,
            shape=self.schema.shape,
            approval=self.approval,
        )
        if self.approval is not None:
            if len(self.sources) > 1:
                raise PlanError(self.approval.source, None, "an approvable plan is read alone: give it as the "
                                "only PLAN")
            self.approval.match(plan)
        return plan

    def approve(self, approval: Approval) -> None:
        """The source being read is an approvable plan (checked against its tasks by ``finish``)."""
        self.approval = approval

    def declare_service(self, declared: str, line: int) -> None:
        """A plan that says which service it is for must be for the run's service."""
        if declared != self.service:
            raise self.error(
                line,
                f"this plan is made for {declared.upper()} (service: {declared}) but this run deletes "
                f"{self.service.upper()} backups: run it with --service {declared}",
            )

    def declare_project(self, declared: str, line: int) -> None:
        """A plan's project_id must be the configured one, and agree with every other source's."""
        if self._project_id is not None and declared.lower() != self._project_id.lower():
            raise self.error(
                line, f"project_id {quote(declared)} differs from the configured project {quote(self._project_id)}"
            )
        if self._declared is None:
            self._declared = (declared, f"{self.source}:{line}")
        elif declared.lower() != self._declared[0].lower():
            first, where = self._declared
            raise self.error(line, f"project_id {quote(declared)} differs from {quote(first)} declared at {where}")

    # -- tasks and duplicates

    def add_whole(self, checkpoint: bytes, line: int) -> None:
        """Add the task to delete a whole record, unless it is already there."""
        first = self._whole_at.get(checkpoint)
        if first is not None:
            where = f"{self._place(first)} and again at {self.source}:{line}"
            self._merged(lambda: f"the whole record {format_uuid(checkpoint)} is listed at {where}; deleted once")
            return
        self._whole_at[checkpoint] = len(self.whole)
        self._append(checkpoint + NO_ITEM, WHOLE, line)

    def add_item(self, checkpoint: bytes, item: bytes, line: int) -> None:
        """Add the task to delete one backup, unless it or its whole record is already there."""
        whole = self._whole_at.get(checkpoint)
        if whole is not None:
            here = f"{self.source}:{line}"
            self._merged(partial(_covered_message, checkpoint, item, here, self._place(whole)))
            return
        record = checkpoint + item
        if record in self._seen:
            self._merged(partial(self._repeated_item_message, record, f"{self.source}:{line}"))
            return
        self._seen.add(record)
        self._append(record, ITEM, line)

    def add_backup(self, backup: bytes, vault: bytes | None, line: int) -> None:
        """Add the task to delete one CBR backup (``vault``: its vault id as a check, or None), merging repeats."""
        first = self._backup_at.get(backup)
        if first is None:
            self._backup_at[backup] = len(self.whole)
            if vault is None:
                self._append(NO_ITEM + backup, NO_VAULT, line)
            else:
                self._append(vault + backup, ITEM, line)
            return
        here = f"{self.source}:{line}"
        if vault is not None:
            offset = first * RECORD
            if self.whole[first] == NO_VAULT:  # the repeat adds the check the first entry left out
                self.keys[offset : offset + ID_BYTES] = vault
                self.whole[first] = ITEM
            elif self.keys[offset : offset + ID_BYTES] != vault:
                known = format_uuid(self.keys[offset : offset + ID_BYTES])
                raise self.error(
                    line,
                    f"backup {format_uuid(backup)} is listed at {self._place(first)} with vault_id {known} and "
                    f"at {here} with vault_id {format_uuid(vault)}: a backup is in one vault; fix one of them",
                )
        where = f"{self._place(first)} and again at {here}"
        self._merged(lambda: f"backup {format_uuid(backup)} is listed at {where}; deleted once")

    def _append(self, record: bytes, whole: int, line: int) -> None:
        self.keys += record
        self.whole.append(whole)
        self.lines.append(line)

    def _merged(self, message: Callable[[], str]) -> None:
        """Count one merged duplicate; word it only while under the cap (finding the first place scans)."""
        self._duplicates += 1
        if self._duplicates <= MAX_DUPLICATE_WARNINGS:
            self.warnings.append(message())

    def _repeated_item_message(self, record: bytes, here: str) -> str:
        first = self._place(self._find_item(record))
        checkpoint, item = format_uuid(record[:ID_BYTES]), format_uuid(record[ID_BYTES:])
        return f"item {item} of checkpoint {checkpoint} is listed at {first} and again at {here}; deleted once"

    def _find_item(self, record: bytes) -> int:
        """The index of the single-backup task with this record (a scan: used for warnings only)."""
        position = self.keys.find(record)
        while position % RECORD or self.whole[position // RECORD]:
            if position < 0:
                raise AssertionError("a seen record is missing from the plan")
            position = self.keys.find(record, position + 1)
        return position // RECORD

    def _drop_covered_items(self) -> None:
        """Drop the single-backup tasks listed before the whole-record entry of their checkpoint."""
        dropped: list[int] = []
        keys, whole_at = self.keys, self._whole_at
        for index, is_whole in enumerate(self.whole):
            if is_whole:
                continue
            checkpoint = bytes(keys[index * RECORD : index * RECORD + ID_BYTES])
            whole = whole_at.get(checkpoint)
            if whole is not None:
                item = bytes(keys[index * RECORD + ID_BYTES : (index + 1) * RECORD])
                self._merged(partial(_covered_message, checkpoint, item, self._place(index), self._place(whole)))
                dropped.append(index)
        if dropped:
            self._compact(dropped)

    def _compact(self, dropped: list[int]) -> None:
        """Remove the tasks at the given (ascending) indexes, keeping the source boundaries right."""
        keys, whole, lines = bytearray(), bytearray(), array("I")
        begin = 0
        for end in [*dropped, len(self.whole)]:
            keys += self.keys[begin * RECORD : end * RECORD]
            whole += self.whole[begin:end]
            lines.extend(self.lines[begin:end])
            begin = end + 1
        self.starts = [start - bisect.bisect_left(dropped, start) for start in self.starts]
        self.keys, self.whole, self.lines = keys, whole, lines

    def _place(self, index: int) -> str:
        source = self.sources[bisect.bisect_right(self.starts, index) - 1]
        return f"{source}:{self.lines[index]}"


def _covered_message(checkpoint: bytes, item: bytes, item_place: str, whole_place: str) -> str:
    return (
        f"item {format_uuid(item)} of checkpoint {format_uuid(checkpoint)} at {item_place} is covered by "
        f"the whole-record entry at {whole_place}; only the whole record is deleted"
    )
