"""The list and count queries: parse the parameters, filter, sort, and cut a page.

Filters follow OTC-CSBS "Querying All Backups": exact ``status``, ``checkpoint_id``, ``resource_id``,
``policy_id``, ``resource_type``; fuzzy (substring) ``name`` and ``resource_name``; ``start_time`` and
``end_time`` bound ``created_at``. ``sort`` is ``key[:dir],...`` with ``desc`` as the default direction.
``marker`` is the id of the last item of the previous page; a marker whose item has since vanished still
works (the store keeps where gone items stood), so paging through a list while deleting from it is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.emulator.core.listing import ordered, still
from worker.emulator.core.timebase import parse_time
from worker.emulator.csbs.errors import bad_parameter
from worker.emulator.csbs.model import Item, View

DEFAULT_LIMIT = 1000
DEFAULT_SORT = "created_at:desc"
EXACT_FILTERS = ("status", "checkpoint_id", "resource_id", "resource_type")
FUZZY_FILTERS = ("name", "resource_name")
SORT_KEYS = frozenset({"created_at", "updated_at", "name", "status", "protected_at", "id"})


@dataclass(frozen=True)
class Query:
    """A parsed list or count query."""

    exact: Mapping[str, str]
    fuzzy: Mapping[str, str]
    policy_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    sort: tuple[tuple[str, bool], ...] = (("created_at", True),)  # (key, descending)
    limit: int = DEFAULT_LIMIT
    marker: str | None = None
    offset: int = 0

    @property
    def listing_key(self) -> Hashable:
        """What decides which backups the listing holds and their order (not the paging)."""
        return (tuple(sorted(self.exact.items())), tuple(sorted(self.fuzzy.items())), self.policy_id, self.start,
                self.end, self.sort)


def parse_query(params: Mapping[str, str]) -> Query:
    """Read the filters and paging parameters; a malformed one is a 400."""
    return Query(
        exact={key: params[key] for key in EXACT_FILTERS if key in params},
        fuzzy={key: params[key] for key in FUZZY_FILTERS if key in params},
        policy_id=params.get("policy_id"),
        start=_time_param(params, "start_time"),
        end=_time_param(params, "end_time"),
        sort=_parse_sort(params.get("sort", DEFAULT_SORT)),
        limit=_int_param(params, "limit", DEFAULT_LIMIT, minimum=1),
        marker=params.get("marker") or None,
        offset=_int_param(params, "offset", 0, minimum=0),
    )


def matches(query: Query, view: View) -> bool:
    """True if the item passes every filter of the query."""
    item = view[0]
    if any(_field(view, key) != value for key, value in query.exact.items()):
        return False
    return _matches_stored(query, item)


def cacheable(query: Query) -> bool:
    """Whether the query's answer depends only on which backups exist: no status filter, a still order."""
    return "status" not in query.exact and still(query.sort)


def sorted_items(items: Iterable[Item], query: Query) -> list[Item]:
    """The items a ``cacheable`` query lists, in its order."""
    selected = [item for item in items
                if all(str(getattr(item, key)) == value for key, value in query.exact.items())
                and _matches_stored(query, item)]
    return ordered(selected, query.sort, _stored_sort_value)


def _matches_stored(query: Query, item: Item) -> bool:
    """The filters other than the exact ones: on what the store keeps of an item, whatever reads it."""
    if any(value.lower() not in str(getattr(item, key)).lower() for key, value in query.fuzzy.items()):
        return False
    if query.policy_id is not None and item.policy_id != query.policy_id:
        return False
    if query.start is not None and item.created_at < query.start:
        return False
    return not (query.end is not None and item.created_at > query.end)


def page(views: list[View], query: Query, marker_view: Callable[[str], View | None]) -> list[View]:
    """Filter, sort and cut one page; ``marker_view`` finds the marker's item, gone or filtered out."""
    selected = [view for view in views if matches(query, view)]
    if query.marker is not None:
        anchor = marker_view(query.marker)
        if anchor is None:
            raise bad_parameter(f"marker {query.marker} not found")
        if all(item.id != query.marker for item, _ in selected):
            selected.append(anchor)
        selected = ordered(selected, query.sort, _sort_value)
        index = next(i for i, (item, _) in enumerate(selected) if item.id == query.marker)
        selected = selected[index + 1:]
    else:
        selected = ordered(selected, query.sort, _sort_value)
    return selected[query.offset:query.offset + query.limit]


def _stored_sort_value(key: str) -> Callable[[Item], Any]:
    """The sort key of a still field (see ``cacheable``), read from the stored item."""
    field = "created_at" if key == "protected_at" else key
    return lambda item: getattr(item, field)


def _field(view: View, key: str) -> str:
    """A filter field: the status as the reader sees it now, anything else as stored."""
    item, shown = view
    return str(shown.status if key == "status" else getattr(item, key))


def _sort_value(key: str) -> Callable[[View], Any]:
    """The sort key of one field; ``status`` and ``updated_at`` as the reader sees them."""
    if key in ("status", "updated_at"):
        return lambda view: getattr(view[1], key)
    field = "created_at" if key == "protected_at" else key  # a backup is protected when it is created
    return lambda view: getattr(view[0], field)


def _parse_sort(text: str) -> tuple[tuple[str, bool], ...]:
    if len(text) > 255:
        raise bad_parameter("sort is longer than 255 characters")
    keys = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, direction = part.partition(":")
        if key not in SORT_KEYS or direction not in ("", "asc", "desc"):
            raise bad_parameter(f"sort {part!r}: key must be one of {sorted(SORT_KEYS)}, direction asc|desc")
        keys.append((key, direction != "asc"))
    return tuple(keys) or (("created_at", True),)


def _int_param(params: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    if name not in params:
        return default
    try:
        value = int(params[name])
    except ValueError:
        raise bad_parameter(f"{name} must be an integer") from None
    if value < minimum:
        raise bad_parameter(f"{name} must be at least {minimum}")
    return value


def _time_param(params: Mapping[str, str], name: str) -> datetime | None:
    if not params.get(name):
        return None
    try:
        return parse_time(params[name])
    except ValueError:
        raise bad_parameter(f"{name} must be a time like 2017-04-18T01:21:52.701973") from None
