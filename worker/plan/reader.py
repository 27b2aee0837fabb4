"""``read_plan``: every source, in order, read in its format into one checked plan.

``read_plan`` checks everything before it returns, so an invalid plan never yields a single task: any
fault raises ``PlanError(source, line, message)``. It is plain blocking code with no event-loop calls and
no signal handling, so a run can call it in a worker thread and stay able to stop while a plan is read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from worker.errors import PlanError
from worker.plan.builder import PlanBuilder
from worker.plan.formats import FORMATS, sniff
from worker.plan.jsonl import read_jsonl
from worker.plan.lines import Lines, byte_lines, text_lines
from worker.plan.model import STDIN_SOURCE, Plan
from worker.plan.schema import RECORD_ENTRIES, EntrySchema, Shape
from worker.plan.text import read_cbr_text, read_text
from worker.plan.yaml_plan import read_yaml


def reads_stdin(sources: Sequence[str]) -> bool:
    """Whether ``read_plan(sources)`` reads standard input (``-`` given, or no source at all)."""
    return not sources or "-" in sources


def read_plan(
    sources: Sequence[str],
    *,
    fmt: str = "auto",
    project_id: str | None = None,
    stdin: TextIO | None = None,
    on_warning: Callable[[str], None] | None = None,
    service: EntrySchema = RECORD_ENTRIES,
) -> Plan:
    """Read and check every source into one plan, or raise ``PlanError`` for the first fault.

    Args:
        sources: plan files; ``-`` is standard input, and no source at all means ``["-"]``.
        fmt: ``"auto"`` (decided per source, see ``detect_format``), ``"yaml"``, ``"text"`` or ``"jsonl"``.
        project_id: the configured project; a plan's ``project_id`` must equal it (case-insensitive).
            None skips that check, but the plan's own ``project_id`` values must still agree.
        stdin: what ``-`` reads; defaults to ``sys.stdin`` (read as bytes, to name the line of bad UTF-8).
        on_warning: told about each merged duplicate (capped, then a summary); nothing is told when the
            plan is invalid.
        service: how the run's service's entries read (its ``EntrySchema``: records and their items for
            CSBS, backups with an optional vault for CBR; see ``Task`` for how a task of each shape reads).
            A plan that declares another service (``service:``), or an entry with another service's keys,
            is refused with the ``--service`` to use. ``Plan.service`` tells which the plan was read for.
    """
    if isinstance(sources, str):
        raise TypeError("sources must be a sequence of paths, not one string")
    if fmt not in FORMATS:
        raise ValueError(f"unknown plan format {fmt!r}; expected one of {', '.join(FORMATS)}")
    names = list(sources) or ["-"]
    if names.count("-") > 1:
        raise PlanError(STDIN_SOURCE, None, "'-' (standard input) is given more than once")
    builder = PlanBuilder(project_id, service)
    for name in names:
        _read_source(builder, name, fmt, stdin)
    plan = builder.finish()
    if on_warning is not None:
        for warning in builder.warnings:
            on_warning(warning)
    return plan


def _read_source(builder: PlanBuilder, name: str, fmt: str, stdin: TextIO | None) -> None:
    """Open one source (a path, or ``-``) and feed its lines to the builder."""
    if name == "-":
        builder.begin_source(STDIN_SOURCE)
        _parse_all(builder, _stdin_lines(stdin), fmt)
        return
    builder.begin_source(name)
    try:
        stream = open(name, "rb")  # noqa: SIM115 - closed below; bytes, to name the line of bad UTF-8
    except OSError as error:
        raise PlanError(name, None, f"cannot read the plan: {error.strerror or error}") from None
    with stream:
        _parse_all(builder, byte_lines(name, stream), fmt)


def _stdin_lines(stdin: TextIO | None) -> Lines:
    """The lines of standard input (or of the given text stream)."""
    if stdin is None:
        if sys.stdin is None:
            raise PlanError(STDIN_SOURCE, None, "there is no standard input to read the plan from")
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is not None:
            return byte_lines(STDIN_SOURCE, buffer)
        stdin = sys.stdin
    return text_lines(STDIN_SOURCE, stdin)


def _parse_all(builder: PlanBuilder, lines: Lines, fmt: str) -> None:
    """Parse one source, then close its lines at once (a fault mid-source must not leave them to the GC,
    which would release a stream that is closed by then)."""
    try:
        _parse(builder, lines, fmt)
    finally:
        lines.close()


def _parse(builder: PlanBuilder, lines: Iterator[str], fmt: str) -> None:
    """Parse one source in the given (or detected) format."""
    if fmt == "auto":
        fmt, lines = sniff(lines)
    if fmt == "yaml":
        read_yaml(builder, "".join(lines))
    elif fmt == "jsonl":
        read_jsonl(builder, lines)
    elif builder.schema.shape is Shape.BACKUPS:
        read_cbr_text(builder, lines)
    else:
        read_text(builder, lines)
