"""What became of every task: results, counts, the JSON report and the exit code.

``iso`` and ``TaskResult`` live in ``worker.engine.outcomes``; they are re-exported here for the report's readers.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from worker.engine.outcomes import CHANGED_SINCE_PLAN, ID_KEYS, ExitCode, Outcome, TaskResult, iso

__all__ = ["PlannedTask", "Results", "TargetReport", "TaskResult", "exit_code", "iso", "summed_counts",
           "write_fleet_report", "write_report"]


class PlannedTask(Protocol):
    """What the report needs of a plan entry (``worker.plan.Task`` has it)."""

    @property
    def container_id(self) -> str: ...

    @property
    def backup_id(self) -> str | None: ...


@dataclass
class Results:
    """Results by plan index; tasks without one were never attempted (kept implicit: plans can be huge)."""

    plan: Sequence[PlannedTask]
    by_index: dict[int, TaskResult] = field(default_factory=dict)

    def record(self, index: int, result: TaskResult) -> None:
        self.by_index[index] = result

    def counts(self) -> dict[str, int]:
        """One key per outcome (docs/design.md), zeros included."""
        counted = Counter(result.outcome for result in self.by_index.values())
        counted[Outcome.NOT_ATTEMPTED] += len(self.plan) - len(self.by_index)
        return {str(outcome): counted[outcome] for outcome in Outcome}

    def withheld(self) -> int:
        """Tasks not sent because their backup changed since their approvable plan (``changed_since_plan``): a
        failure for the exit code (``exit_code(withheld=)``), though not an outcome of their own."""
        return sum(1 for result in self.by_index.values() if result.error_code == CHANGED_SINCE_PLAN)

    def iter_json(self, id_keys: tuple[str, str] = ID_KEYS) -> Iterator[dict[str, Any]]:
        """Every task's result in plan order, streaming; ``id_keys`` as the service names a task's ids."""
        for index, task in enumerate(self.plan):
            result = self.by_index.get(index)
            if result is None:
                result = TaskResult(task.container_id, task.backup_id, Outcome.NOT_ATTEMPTED)
            yield result.to_json(id_keys)


def exit_code(counts: Mapping[str, int], *, stopped: bool, aborted: bool, unfinished: bool = False,
              withheld: int = 0) -> ExitCode:
    """The exit code of docs/design.md: abort beats stop beats failures; ``unfinished`` (the cloud failed
    before the tasks could be known) and ``withheld`` tasks (not sent because the backup changed since an
    approvable plan was made) count as failures."""
    if aborted:
        return ExitCode.ABORTED
    if stopped:
        return ExitCode.STOPPED
    if unfinished or withheld or counts.get(Outcome.FAILED, 0) or counts.get(Outcome.TIMED_OUT, 0):
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def write_report(path: str, header: Mapping[str, Any], results: Results,
                 redact: Callable[[str], str] | None = None,
                 id_keys: tuple[str, str] = ID_KEYS) -> None:
    """Write the JSON report (``-`` = stdout), streaming ``results`` so big plans stay cheap.

    ``redact`` is applied to every string of the results and the header (secrets a server echoed back);
    ``id_keys`` name a task's two ids in every result, as the run's service does.
    """
    with _opened(path) as handle:
        body = _redacted(dict(header), redact)
        body["counts"] = results.counts()
        head = json.dumps(body, indent=2)
        handle.write(head[:-2] + ',\n  "results": [')
        _write_rows(handle, results, id_keys, redact, "\n    ")
        handle.write("\n  ]\n}\n")


@dataclass(frozen=True)
class TargetReport:
    """One target of a fleet's report: what names it (name, user, service, project, endpoint, exit code...),
    its results, and its service's names for a task's two ids."""

    fields: Mapping[str, Any]
    results: Results
    id_keys: tuple[str, str] = ID_KEYS


def write_fleet_report(path: str, header: Mapping[str, Any], targets: Sequence[TargetReport],
                       redact: Callable[[str], str] | None = None) -> None:
    """Write a fleet's JSON report (``-`` = stdout): the header, the counts summed, and ``targets``, each with
    its fields, its ``counts`` and its ``results`` (the rows of ``write_report``), streamed."""
    with _opened(path) as handle:
        body = _redacted(dict(header), redact)
        body["counts"] = summed_counts(target.results for target in targets)
        head = json.dumps(body, indent=2)
        handle.write(head[:-2] + ',\n  "targets": [')
        for number, target in enumerate(targets):
            fields = {**_redacted(dict(target.fields), redact), "counts": target.results.counts()}
            handle.write(("\n    " if number == 0 else ",\n    ") + json.dumps(fields)[:-1] + ', "results": [')
            _write_rows(handle, target.results, target.id_keys, redact, "\n      ")
            handle.write("\n    ]}")
        handle.write("\n  ]\n}\n")


def summed_counts(results: Iterable[Results]) -> dict[str, int]:
    """The counts of several targets' results added up, one key per outcome."""
    summed: Counter[str] = Counter()
    for each in results:
        summed.update(each.counts())
    return {str(outcome): summed[str(outcome)] for outcome in Outcome}


@contextlib.contextmanager
def _opened(path: str) -> Iterator[TextIO]:
    """The report's file (``-``: stdout, flushed and left open)."""
    handle = sys.stdout if path == "-" else open(path, "w", encoding="utf-8")  # noqa: SIM115
    try:
        yield handle
    finally:
        if handle is not sys.stdout:
            handle.close()
        else:
            handle.flush()


def _write_rows(handle: TextIO, results: Results, id_keys: tuple[str, str], redact: Callable[[str], str] | None,
                indent: str) -> None:
    for number, record in enumerate(results.iter_json(id_keys)):
        handle.write((indent if number == 0 else "," + indent) + json.dumps(_redacted(record, redact)))


def _redacted(record: dict[str, Any], redact: Callable[[str], str] | None) -> dict[str, Any]:
    if redact is None:
        return record
    return {key: redact(value) if isinstance(value, str) else value for key, value in record.items()}
