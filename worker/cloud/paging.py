"""Every page of a CBR listing, by ``limit`` + ``offset`` (point 13 of ``docs/cbr-api.md``), and the retries
of one page (CSBS pages by marker, with the same retries).

The listing stops on an empty page, on a page that brings no new id (a server ignoring ``offset``),
or on a short page once ``count`` (read as the total) is reached. ``count`` is only a check: a server
that answers fewer rows than asked (a lower page cap) is paged on while the total is not reached, and
one whose ``count`` is the page's size stops at its first short page. Rows are deduplicated by id,
since offsets shift when backups vanish between pages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog

from worker.engine.answer import Answer, AnswerKind
from worker.engine.retry import RetryPolicy, call_with_retries

_log = structlog.get_logger()


@dataclass(frozen=True)
class Page:
    """One page: its rows and the answer's ``count`` (None when absent)."""

    rows: list[dict[str, Any]]
    count: int | None


async def collect_pages(page: Callable[[int], Awaitable[Answer]], page_size: int, policy: RetryPolicy,
                        deadline: float | None, route: str) -> Answer:
    """Ask ``page(offset)`` until the listing ends; each page is retried while retryable.

    Returns the last page's answer with ``data`` = every row, or the first page answer that is not OK.
    """
    rows: list[dict[str, Any]] = []
    seen: set[Any] = set()
    offset = 0
    count: int | None = None
    while True:
        answer = await page_with_retries(partial(page, offset), policy, deadline, "cbr_page_retry", route=route)
        if answer.kind is not AnswerKind.OK:
            return answer
        got: Page = answer.data
        count = got.count if got.count is not None else count
        fresh = [row for row in got.rows if row.get("id") not in seen]
        rows.extend(fresh)
        seen.update(row.get("id") for row in fresh)
        offset += len(got.rows)
        if not fresh or (len(got.rows) < page_size and (count is None or len(rows) >= count)):
            break
    if count is not None and count > len(rows):
        _log.warning("cbr_list_count_mismatch", route=route, count=count, listed=len(rows))
    return dataclasses.replace(answer, data=rows)


async def page_with_retries(call: Callable[[], Awaitable[Answer]], policy: RetryPolicy, deadline: float | None,
                            event: str, **context: Any) -> Answer:
    """One page, asked again while throttled or transient (``policy``, until ``deadline``); each retry is
    logged as ``event`` with ``context``."""

    def log_retry(answer: Answer, attempt: int, delay_s: float) -> None:
        _log.info(event, **context, attempt=attempt, delay_s=round(delay_s, 3), **answer.log_fields())

    answer, _ = await call_with_retries(call, policy, deadline=deadline, on_retry=log_retry)
    return answer
