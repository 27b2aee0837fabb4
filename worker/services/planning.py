"""What every service's planner shares: a listing it cannot go without, read whole or not at all, and kept page
by page as compact records of the governed backups; then the policy applied to it (``--explain``,
``max_deletions`` and ``max_deletions_percent``, the ``policy_applied`` event).

A plan is only as good as its listing: planning from part of one would both miss backups and shrink the
share ``max_deletions_percent`` is measured against. So a page that keeps failing stops the plan (exit 1, or
3 when refused), and so does a listing whose pages do not add up to the service's count (``Tally``) in
``MAX_LISTING_PASSES`` passes in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

import structlog

from worker.cloud.paging import Row, Rows, Tally
from worker.engine.answer import Answer, AnswerKind
from worker.errors import AbortError, ServiceError, UsageError
from worker.retention.listed import BackupReader, ListedBackup
from worker.retention.policy import Policy
from worker.retention.rules import Decision, check_max_deletions, explain_record, is_governed

log = structlog.get_logger()

MAX_LISTING_PASSES = 3
"""Passes over a listing whose pages do not add up to the service's count before the plan is given up."""


def listed(answer: Answer, what: str) -> Any:
    """The data of a listing the planner cannot go without; refused is exit 3, failing is exit 1."""
    if answer.kind is AnswerKind.OK:
        return answer.data
    if answer.kind is AnswerKind.FATAL:
        raise AbortError(f"listing the {what} was refused: HTTP {answer.status} {answer.error_code}")
    raise ServiceError(f"cannot list the project's {what}: HTTP {answer.status} {answer.error_code} "
                       f"{answer.error_msg} (request id {answer.request_id})")


async def whole_listing(walk: Callable[[Rows], Awaitable[Answer]], into: Rows, what: str) -> Tally:
    """Walk a listing ``into`` its rows until a pass adds up to the service's count (each pass starts over);
    ServiceError (exit 1) after ``MAX_LISTING_PASSES`` that do not."""
    for attempt in range(1, MAX_LISTING_PASSES + 1):
        tally: Tally = listed(await walk(into), what)
        if tally.adds_up:
            if not tally.checked:
                log.warning("listing_unchecked", what=what, listed=tally.listed)
            return tally
        log.warning("listing_incomplete", what=what, listed=tally.listed, count_before=tally.first,
                    count_after=tally.last, attempt=attempt)
    raise ServiceError(f"the listing of the project's {what} did not add up to the service's count "
                       f"{MAX_LISTING_PASSES} times in a row ({tally}): pages went missing or the {what} kept "
                       "changing; nothing planned")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a planner lists and decides. Reading 100,000 backups allocates
    millions of objects, and the collector would walk every record kept so far again and again (a fifth of
    the planner's CPU); the planner makes no reference cycles, and the few the event loop makes meanwhile
    are collected once it is back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class GovernedBackups:
    """The governed backups of a listing, read page by page into ``ListedBackup`` records (a ``Rows`` for the
    paging): all a planner keeps of the backups it lists. A service's planner may ``admit`` fewer rows, or
    note more of each one it ``read``s."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.backups: list[ListedBackup] = []
        self._reader = BackupReader(policy.keep.tags)

    def extend(self, rows: Iterable[Row]) -> None:
        for row in rows:
            if self.admits(row) and is_governed(row, self.policy):
                self.backups.append(self.read(row))

    def clear(self) -> None:
        self.backups.clear()

    def admits(self, row: Row) -> bool:
        """Whether a listed row may be governed at all."""
        return True

    def read(self, row: Row) -> ListedBackup:
        """The record of a governed row; UsageError (exit 2) for one the planner cannot place."""
        try:
            return self._reader.read(row)
        except ValueError as error:  # a backup the service described in a way the planner cannot read
            raise UsageError(f"cannot apply {self.policy.source} to the listed backups: {error}") from None


async def applied(policy: Policy, explain: str | None, decisions: Sequence[Decision]) -> Sequence[Decision]:
    """Write ``--explain``, refuse a plan above ``max_deletions`` or ``max_deletions_percent``, log the counts."""
    if explain:
        await asyncio.to_thread(write_explain, explain, decisions)
    doomed = check_max_deletions(decisions, policy)
    log.info("policy_applied", policy=policy.source, governed=len(decisions), keep=len(decisions) - doomed,
             delete=doomed, timezone=str(policy.timezone))
    return decisions


def write_explain(path: str, decisions: Sequence[Decision]) -> None:
    """``--explain``: the JSON list of every decision, written one decision at a time (the same text as
    ``json.dump(records, indent=2)``, without holding every record at once)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[")
        for n, decision in enumerate(decisions):
            handle.write(",\n  " if n else "\n  ")
            handle.write(_explain_text(explain_record(decision)))
        handle.write("\n]" if decisions else "]")


_SCALARS = (str, int, float, bool, type(None))


def _explain_text(record: dict[str, Any]) -> str:
    """One record as ``json.dumps(record, indent=2)`` writes it one level in. Written here from the C encoder's
    scalars: json's indenting encoder is pure Python, 100,000 records took it 1.5 s, and each call leaves a
    reference cycle behind for the (paused) collector."""
    if not all(isinstance(value, _SCALARS) or _scalar_list(value) for value in record.values()):
        return json.dumps(record, indent=2).replace("\n", "\n  ")  # a value nested deeper (an odd name)
    fields = []
    for key, value in record.items():
        shown = ("[\n      " + ",\n      ".join(map(json.dumps, value)) + "\n    ]") if isinstance(value, list) \
            else json.dumps(value)
        fields.append(f"    {json.dumps(key)}: {shown}")
    return "{\n" + ",\n".join(fields) + "\n  }"


def _scalar_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, _SCALARS) for item in value)
