"""The plan in memory: ``Task`` (one DELETE) and ``Plan``, the compact, checked sequence of them.

Memory: a million-line plan must not need a Python object per task. Tasks are kept as 32-byte records in
one ``bytearray``, a one-byte kind flag and a 4-byte line number each; the source of a task is found by
bisecting the first task index of each source. ``Task`` objects are made only when the ``Plan`` is indexed
or iterated. A record is, for CSBS, checkpoint id + item id (zeros for a whole record, flag ``WHOLE``);
for CBR, vault id + backup id, the flag ``NO_VAULT`` (and a zero vault id) when the entry names no vault:
the flag, not the zeros, says so, since the nil UUID is a valid id.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, overload

from worker.plan.schema import RECORD_ENTRIES, Shape

if TYPE_CHECKING:
    from worker.plan.approval import Approval

STDIN_SOURCE: Final = "<stdin>"  # the source name of a plan read from standard input
ID_BYTES: Final = 16
RECORD: Final = 2 * ID_BYTES  # checkpoint id + item id
NO_ITEM: Final = bytes(ID_BYTES)  # the item id of a whole-record task, and the vault id of a CBR task without one
ITEM: Final = 0  # flag: one backup (a CSBS item of a record, or a CBR backup whose entry gives its vault_id)
WHOLE: Final = 1  # flag: a whole CSBS record
NO_VAULT: Final = 2  # flag: a CBR backup whose entry gives no vault_id


@dataclass(frozen=True, slots=True)
class Task:
    """One DELETE: for CSBS a whole backup record or one backup (item) of it; for CBR one backup.

    ``container_id`` is what holds the backup: a CSBS record, or the CBR vault the entry gives as a check
    (``""`` when it gives none); ``backup_id`` the backup: a CSBS item (None: the whole record), a CBR backup.
    """

    container_id: str  # lower-case canonical UUID; CBR: the entry's vault_id, or "" when it gives none
    backup_id: str | None  # CSBS: None = the whole record; CBR: the backup id
    source: str  # where it was listed: a path, or "<stdin>"
    line: int | None  # 1-based line in that source


class Plan(Sequence[Task]):
    """The tasks of a plan, deduplicated, in the order first listed; ``Task`` objects are made on access."""

    __slots__ = ("_keys", "_lines", "_starts", "_whole", "approval", "project_id", "service", "shape", "sources")

    def __init__(
        self,
        *,
        sources: tuple[str, ...] = (),
        starts: Sequence[int] = (),
        keys: bytearray | None = None,
        whole: bytearray | None = None,
        lines: array[int] | None = None,
        project_id: str | None = None,
        service: str = RECORD_ENTRIES.service,
        shape: Shape = Shape.RECORDS,
        approval: Approval | None = None,
    ) -> None:
        self.sources = sources  #: every source read, in order ("<stdin>" for standard input)
        self.project_id = project_id  #: the project the plan declares (YAML ``project_id``), if any
        self.service = service  #: the name of the service the plan was read for
        self.shape = shape  #: what its entries name (``Shape``): how its tasks read
        self.approval = approval  #: what an approvable plan states besides its deletions (None: not one)
        self._starts = list(starts)  # index of the first task of each source
        self._keys = keys if keys is not None else bytearray()
        self._whole = whole if whole is not None else bytearray()
        self._lines = lines if lines is not None else array("I")

    def __len__(self) -> int:
        return len(self._whole)

    @overload
    def __getitem__(self, index: int) -> Task: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Task]: ...

    def __getitem__(self, index: int | slice) -> Task | Sequence[Task]:
        if isinstance(index, slice):
            return [self._task(i) for i in range(len(self))[index]]
        return self._task(range(len(self))[index])  # range does the bounds and negative indexes

    def __iter__(self) -> Iterator[Task]:
        return (self._task(i) for i in range(len(self)))

    def __repr__(self) -> str:
        if self.shape is Shape.BACKUPS:
            return f"<Plan {len(self)} {self.service.upper()} backups from {self.sources}>"
        whole, items = self.counts()
        return f"<Plan {len(self)} tasks ({whole} whole-record, {items} single-backup) from {self.sources}>"

    def counts(self) -> tuple[int, int]:
        """The number of whole-record tasks and of single-backup tasks (a CBR plan has only the latter)."""
        whole = self._whole.count(WHOLE)
        return whole, len(self) - whole

    def _task(self, i: int) -> Task:
        offset = i * RECORD
        record = self._keys[offset : offset + RECORD]
        flag = self._whole[i]
        item = None if flag == WHOLE else format_uuid(record[ID_BYTES:])
        owner = "" if flag == NO_VAULT else format_uuid(record[:ID_BYTES])
        source = self.sources[bisect.bisect_right(self._starts, i) - 1]
        return Task(owner, item, source, self._lines[i])


def format_uuid(raw: bytes | bytearray) -> str:
    """The canonical lower-case text of a 16-byte id."""
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
