"""Every page of a CBR listing, by ``limit`` + ``offset`` (point 13 of ``docs/cbr-api.md``), the retries of one
page (CSBS pages by marker, with the same retries), and whether a listing adds up to the service's count.

The listing stops on an empty page, on a page that brings no new id (a server ignoring ``offset``),
or on a short page once ``count`` (read as the total) is reached. A server that answers fewer rows than
asked (a lower page cap) is paged on while the total is not reached, and one whose ``count`` is the page's
size stops at its first short page. Rows are deduplicated by id, since offsets shift when backups come
and go between pages.

The rows go, page by page, to a ``Rows`` (a list, or a planner that keeps only what it needs), so that a
listing of 100,000 backups need not be held whole. What a pass saw, its ``Tally``, says whether the rows
are the whole listing: a planner refuses to plan from one that does not add up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import structlog

from worker.engine.answer import Answer, AnswerKind
from worker.engine.retry import RetryPolicy, call_with_retries

_log = structlog.get_logger()

Row = dict[str, Any]


class Rows(Protocol):
    """Where a listing puts the new rows of each page (a ``list`` is one)."""

    def extend(self, rows: Iterable[Row], /) -> None: ...

    def clear(self) -> None: ...  # the listing starts over


@dataclass(frozen=True)
class Page:
    """One page: its rows and the answer's ``count`` (None when absent)."""

    rows: list[Row]
    count: int | None


@dataclass(frozen=True)
class Tally:
    """What one pass over a listing saw: how many distinct rows, and the total the service gave for the
    listing when the pass began and when it ended (None: it gave none, or only a page's size)."""

    listed: int
    first: int | None = None
    last: int | None = None

    @property
    def checked(self) -> bool:
        """Whether the service gave a total to check the rows against."""
        return self.first is not None or self.last is not None

    @property
    def adds_up(self) -> bool:
        """The rows are the whole listing: as many as the service's total at the start or at the end of the
        pass (a backup made or deleted while the pages went by moves the total between the two). Without a
        total, nothing says otherwise."""
        return not self.checked or self.listed in (self.first, self.last)

    def __str__(self) -> str:
        totals = " and ".join(dict.fromkeys(str(total) for total in (self.first, self.last) if total is not None))
        return f"{self.listed} listed, the service counted {totals}" if totals else f"{self.listed} listed"


async def stream_pages(page: Callable[[int], Awaitable[Answer]], page_size: int, policy: RetryPolicy,
                       deadline: float | None, route: str, into: Rows) -> Answer:
    """Ask ``page(offset)`` until the listing ends, each page retried while retryable, its new rows put
    ``into``. Returns the last page's answer with ``data`` = the pass's ``Tally``, or the first page answer
    that is not OK."""
    seen: set[Any] = set()
    offset = 0
    counts: list[tuple[int | None, int]] = []  # each page's count and its number of rows
    while True:
        answer = await page_with_retries(partial(page, offset), policy, deadline, "cbr_page_retry", route=route)
        if answer.kind is not AnswerKind.OK:
            return answer
        got: Page = answer.data
        counts.append((got.count, len(got.rows)))
        fresh = [row for row in got.rows if row.get("id") not in seen]
        seen.update(row.get("id") for row in fresh)
        into.extend(fresh)
        offset += len(got.rows)
        count = next((c for c, _ in reversed(counts) if c is not None), None)
        if not fresh or (len(got.rows) < page_size and (count is None or len(seen) >= count)):
            break
    return dataclasses.replace(answer, data=_tally(len(seen), counts))


def _tally(listed: int, counts: list[tuple[int | None, int]]) -> Tally:
    """The pass's totals: its first and last page's ``count``, unless every page's count is only the page's
    size (point 13's other reading), which says nothing of the whole listing."""
    totals = [count for count, _ in counts if count is not None]
    if not totals or (len(counts) > 1 and all(count == rows for count, rows in counts)):
        return Tally(listed)
    return Tally(listed, totals[0], totals[-1])


async def collect_pages(page: Callable[[int], Awaitable[Answer]], page_size: int, policy: RetryPolicy,
                        deadline: float | None, route: str) -> Answer:
    """``stream_pages`` into a list: ``data`` = every row (fewer rows than the service's last total is logged)."""
    rows: list[Row] = []
    answer = await stream_pages(page, page_size, policy, deadline, route, rows)
    if answer.kind is not AnswerKind.OK:
        return answer
    last = answer.data.last
    if last is not None and last > len(rows):
        _log.warning("cbr_list_count_mismatch", route=route, count=last, listed=len(rows))
    return dataclasses.replace(answer, data=rows)


async def page_with_retries(call: Callable[[], Awaitable[Answer]], policy: RetryPolicy, deadline: float | None,
                            event: str, **context: Any) -> Answer:
    """One page, asked again while throttled or transient (``policy``, until ``deadline``); each retry is
    logged as ``event`` with ``context``."""

    def log_retry(answer: Answer, attempt: int, delay_s: float) -> None:
        _log.info(event, **context, attempt=attempt, delay_s=round(delay_s, 3), **answer.log_fields())

    answer, _ = await call_with_retries(call, policy, deadline=deadline, on_retry=log_retry)
    return answer
