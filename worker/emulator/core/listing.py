"""What both faces' listings share: the order of a ``sort=key[:asc|desc],...`` listing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
Sort = tuple[tuple[str, bool], ...]
"""A parsed ``sort``: (key, descending) pairs, the first key first."""


def ordered(rows: Iterable[T], sort: Sort, key_of: Callable[[str], Callable[[T], Any]]) -> list[T]:
    """Sorted by each key in turn (stable passes, last key first); ties fall back to the ``id``, in the
    first key's direction. ``key_of(key)`` reads that sort key of a row."""
    result = list(rows)
    first_desc = sort[0][1] if sort else True
    for key, descending in reversed((*sort, ("id", first_desc))):
        result.sort(key=key_of(key), reverse=descending)
    return result
