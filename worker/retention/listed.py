"""One backup as the planner keeps it from a listing: the few fields the rules, ``--explain`` and an approvable
plan need, instead of the whole object the service answered (a CSBS checkpoint_item is over 1 KB of JSON, and
a project may list 100,000 of them).

CSBS checkpoint_items and CBR backups name these fields alike, so one reader serves both services. Pure: no
I/O.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.retention.policy import Tag

NO_TAGS: frozenset[Tag] = frozenset()


@dataclass(frozen=True, slots=True)
class ListedBackup:
    """A governed backup as the listing described it.

    Attributes:
        id: the backup's id (a CSBS checkpoint_item, a CBR backup).
        checkpoint_id: the CSBS record holding it, or the CBR restore point it belongs to.
        created_at: as the service wrote it (``--explain`` shows it so; an approvable plan compares it).
        created: ``created_at`` read as an aware UTC instant (no zone means UTC).
        status: ``available`` or ``error`` (the only statuses the rules govern).
        name: the backup's name, as listed (``--explain`` shows it).
        resource_id: the backed-up server or disk; None when the service gave none.
        resource_name: its name (CSBS: ``extend_info.resource_name``, else ``resource_name``); None if none.
        vault_id: the CBR vault holding it; None for CSBS.
        tags: the tags it carries that the reader was asked about (a policy's ``keep.tags``: the only ones
            the rules read); CBR backups carry none.
        size_mb: the size the service reports for the backup (CSBS ``extend_info.size``, in MB); None when it
            reports none (CBR reports only the backed-up resource's size).
    """

    id: str
    checkpoint_id: str
    created_at: str
    created: datetime
    status: str
    name: Any
    resource_id: str | None
    resource_name: str | None
    vault_id: str | None = None
    tags: frozenset[Tag] = NO_TAGS
    size_mb: int | None = None


def parse_created_at(text: object) -> datetime:
    """An aware UTC datetime from the API's ``created_at``: no zone means UTC; Z or an offset is honoured."""
    if not isinstance(text, str):
        raise ValueError(f"created_at must be an ISO 8601 string, not {text!r}")
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class BackupReader:
    """Reads listed backups into ``ListedBackup`` records, with the ``tags`` asked about (a policy's keep
    tags). The strings many backups repeat (server ids and names, vault ids, statuses) and their tag sets
    are shared, so a big listing holds each once."""

    def __init__(self, tags: Iterable[Tag] = ()) -> None:
        self._wanted = frozenset(tags)
        self._tag_sets: dict[frozenset[Tag], frozenset[Tag]] = {}

    def read(self, item: Mapping[str, Any]) -> ListedBackup:
        """The record of one listed backup; ValueError when it has no string ``id`` and ``checkpoint_id`` or
        an unreadable ``created_at`` (planning around a backup it cannot place could delete the wrong ones)."""
        backup_id, checkpoint_id = item.get("id"), item.get("checkpoint_id")
        if not isinstance(backup_id, str) or not isinstance(checkpoint_id, str):
            raise ValueError(f"backup {backup_id!r}: id and checkpoint_id must be strings")
        created_at = item.get("created_at")
        try:
            created = parse_created_at(created_at)
        except ValueError as exc:
            raise ValueError(f"backup {backup_id}: {exc}") from None
        assert isinstance(created_at, str)  # parse_created_at takes nothing else
        extend_info = item.get("extend_info")
        extend = extend_info if isinstance(extend_info, Mapping) else {}
        return ListedBackup(
            id=backup_id, checkpoint_id=checkpoint_id, created_at=created_at, created=created,
            status=sys.intern(str(item.get("status"))), name=item.get("name"),
            resource_id=_shared_text(item.get("resource_id")),
            resource_name=_shared_text(extend.get("resource_name") or item.get("resource_name")),
            vault_id=_shared_text(item.get("vault_id")), tags=self._tags(item.get("tags")),
            size_mb=_whole_number(extend.get("size")),
        )

    def _tags(self, tags: object) -> frozenset[Tag]:
        """The wanted tags among the well-formed ``{key, value}`` string pairs of a ``tags`` list, as one
        shared set."""
        if not self._wanted or not isinstance(tags, list) or not tags:
            return NO_TAGS
        carried = self._wanted & {
            Tag(entry["key"], entry["value"]) for entry in tags
            if isinstance(entry, Mapping) and isinstance(entry.get("key"), str) and isinstance(entry.get("value"), str)
        }
        return self._tag_sets.setdefault(carried, carried) if carried else NO_TAGS


def _shared_text(value: object) -> str | None:
    """A field as one shared string; None when absent or empty."""
    return sys.intern(str(value)) if value else None


def _whole_number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
