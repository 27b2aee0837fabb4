"""What both faces' listings share: the order of a ``sort=key[:asc|desc],...`` listing, and a cache of sorted
listings that holds while the set of backups stays the same."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Sort = tuple[tuple[str, bool], ...]
"""A parsed ``sort``: (key, descending) pairs, the first key first."""

STILL_SORT_KEYS = frozenset({"created_at", "name", "protected_at", "id"})
"""Sort keys whose order cannot change while the set of backups stays the same (``status`` and ``updated_at``
move with deletions)."""


def ordered(rows: Iterable[T], sort: Sort, key_of: Callable[[str], Callable[[T], Any]]) -> list[T]:
    """Sorted by each key in turn (stable passes, last key first); ties fall back to the ``id``, in the
    first key's direction. ``key_of(key)`` reads that sort key of a row."""
    result = list(rows)
    first_desc = sort[0][1] if sort else True
    for key, descending in reversed((*sort, ("id", first_desc))):
        result.sort(key=key_of(key), reverse=descending)
    return result


def still(sort: Sort) -> bool:
    """Whether a listing in this order stays in it while the set of backups stays the same."""
    return all(key in STILL_SORT_KEYS for key, _ in sort)


class SortedListings(Generic[T]):
    """The filtered, sorted rows of listings whose answer depends only on which backups exist (no status
    filter, ``still`` sort keys), kept until the store says the backups changed. Paging through 100,000
    backups then costs one sort, not one per page.

    Args:
        row_id: a row's id (where a ``marker`` stands).
        size: how many listings (distinct filters and orders) are kept at once.
    """

    def __init__(self, row_id: Callable[[T], str], size: int = 8) -> None:
        self._row_id = row_id
        self._size = size
        self._kept: dict[Hashable, tuple[list[T], dict[str, int]]] = {}

    def changed(self) -> None:
        """A backup was added or removed: every kept listing is stale."""
        self._kept.clear()

    def rows(self, key: Hashable, build: Callable[[], list[T]]) -> tuple[list[T], dict[str, int]]:
        """The listing of ``key`` (``build()`` makes it, filtered and sorted, when none is kept) and where
        each id stands in it."""
        kept = self._kept.get(key)
        if kept is None:
            if len(self._kept) >= self._size:
                self._kept.clear()
            rows = build()
            kept = rows, {self._row_id(row): n for n, row in enumerate(rows)}
            self._kept[key] = kept
        return kept

    def page(self, key: Hashable, build: Callable[[], list[T]], marker: str | None, offset: int,
             limit: int) -> tuple[list[T], int] | None:
        """One page after ``marker`` (then ``offset``, ``limit``) and the listing's length; None when the
        marker's backup is not in the listing (gone, or filtered out): the caller then pages the slow way."""
        rows, index = self.rows(key, build)
        if marker is not None and marker not in index:
            return None
        begin = (0 if marker is None else index[marker] + 1) + offset
        return rows[begin:begin + limit], len(rows)
