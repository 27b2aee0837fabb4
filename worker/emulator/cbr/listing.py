"""The list queries of backups, vaults and operation logs: parse the parameters, filter, sort, cut a page.

Filters follow ``docs/cbr-api.md`` (Calls): exact fields, ``status`` repeatable, ``own_type``, and
``start_time``/``end_time`` bounding ``created_at``. ``sort`` is ``key[:asc|desc],...`` (default desc).
Paging is ``limit`` (1-1000, default 1000) with ``offset`` or ``marker`` (the id of the last record of
the previous page; a marker whose backup has gone still works). Point 13: ``offset=0`` may be refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from multidict import MultiMapping

from worker.emulator.cbr import errors
from worker.emulator.core.timebase import parse_time

DEFAULT_LIMIT = 1000
MAX_LIMIT = 1000
BACKUP_FILTERS = ("vault_id", "checkpoint_id", "resource_id", "resource_name", "resource_type", "resource_az",
                  "image_type", "name", "parent_id")
SORT_KEYS = frozenset({"created_at", "updated_at", "name", "status", "protected_at", "id"})
OWN_TYPES = frozenset({"private", "shared", "all_granted"})
T = TypeVar("T")


@dataclass(frozen=True)
class Paging:
    """``limit``, ``offset`` and ``marker`` of one list call."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    marker: str | None = None


@dataclass(frozen=True)
class Window:
    """A ``start_time``/``end_time`` range on ``created_at`` (either end open)."""

    start: datetime | None = None
    end: datetime | None = None

    def holds(self, moment: datetime) -> bool:
        """True if ``moment`` is inside the range."""
        return (self.start is None or moment >= self.start) and (self.end is None or moment <= self.end)


@dataclass(frozen=True)
class BackupQuery:
    """A parsed ``GET backups``."""

    exact: dict[str, str]
    statuses: frozenset[str]
    own_type: str
    window: Window
    sort: tuple[tuple[str, bool], ...]  # (key, descending)
    paging: Paging


def parse_paging(params: MultiMapping[str], offset_zero_refused: bool) -> Paging:
    """``limit``/``offset``/``marker``; out of range is a 400 BackupService.9900."""
    limit = _int(params, "limit", DEFAULT_LIMIT)
    offset = _int(params, "offset", 0)
    if not 1 <= limit <= MAX_LIMIT:
        raise errors.bad_parameter(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0 or (offset_zero_refused and "offset" in params and offset == 0):
        raise errors.bad_parameter("offset must be a positive integer")
    return Paging(limit, offset, params.get("marker") or None)


def parse_window(params: MultiMapping[str]) -> Window:
    """``start_time``/``end_time`` in any of the three time forms."""
    return Window(_time(params, "start_time"), _time(params, "end_time"))


def parse_backup_query(params: MultiMapping[str], offset_zero_refused: bool) -> BackupQuery:
    """Read a backup list query; a malformed parameter is a 400."""
    own_type = params.get("own_type", "private")
    if own_type not in OWN_TYPES:
        raise errors.bad_parameter(f"own_type must be one of {sorted(OWN_TYPES)}")
    return BackupQuery(
        exact={key: params[key] for key in BACKUP_FILTERS if key in params},
        statuses=frozenset(params.getall("status", [])),
        own_type=own_type,
        window=parse_window(params),
        sort=parse_sort(params.get("sort", "created_at:desc")),
        paging=parse_paging(params, offset_zero_refused),
    )


def parse_sort(text: str) -> tuple[tuple[str, bool], ...]:
    """``key[:asc|desc],...``; default direction desc."""
    if len(text) > 255:
        raise errors.bad_parameter("sort is longer than 255 characters")
    keys = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, direction = part.partition(":")
        if key not in SORT_KEYS or direction not in ("", "asc", "desc"):
            raise errors.bad_parameter(f"sort {part!r}: keys {sorted(SORT_KEYS)}, direction asc|desc")
        keys.append((key, direction != "asc"))
    return tuple(keys) or (("created_at", True),)


def cut(rows: list[T], paging: Paging, row_id: Callable[[T], str]) -> list[T]:
    """One page of sorted ``rows``: after the marker's row (the caller sorts it in, gone or not), then
    ``offset``/``limit``."""
    if paging.marker is not None:
        ids = [row_id(row) for row in rows]
        if paging.marker not in ids:
            raise errors.bad_parameter(f"marker {paging.marker} not found")
        rows = rows[ids.index(paging.marker) + 1:]
    return rows[paging.offset:paging.offset + paging.limit]


def _int(params: MultiMapping[str], name: str, default: int) -> int:
    if name not in params:
        return default
    try:
        return int(params[name])
    except ValueError:
        raise errors.bad_parameter(f"{name} must be an integer") from None


def _time(params: MultiMapping[str], name: str) -> datetime | None:
    text = params.get(name)
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise errors.bad_parameter(f"{name} must be a time like 2018-02-01T12:00:00Z") from None
