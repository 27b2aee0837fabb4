"""Output whose reader may close the pipe early: ``csbs-worker delete --dry-run plan | head -1``.

A reader that closes its end of the pipe has read what it wanted; that is its choice, not a fault of the
run. The rest of that output is dropped, the run says so once (``output_closed``, info) and ends with the exit
code its work earns: a valid dry run, a plan made, deletions done stay exit 0 (docs/outcomes.md, "A reader
that leaves early"). The log lines on stderr go the same way (``2>&1 | head``: ``Display.write``), and the
run goes on to its report and metrics. Python ignores SIGPIPE, so the closed pipe arrives as
``BrokenPipeError`` at a write or a flush, wherever the buffer happens to fill.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TextIO

import structlog

log = structlog.get_logger()


@contextlib.contextmanager
def reader_may_leave(stream: TextIO, what: str) -> Iterator[TextIO]:
    """``stream`` for the block, flushed at its end; a reader that has left ends the block quietly.

    ``what`` names the output in the ``output_closed`` event: ``dry_run``, ``plan`` or ``report``. The block
    stops at the write or flush that found the pipe closed, so a dry run stops asking the cloud once
    nobody reads its listing.
    """
    try:
        yield stream
        stream.flush()
    except BrokenPipeError:
        write_nowhere(stream)
        log.info("output_closed", output=what, detail="the reader closed the pipe; the rest was not written")


def write_nowhere(stream: TextIO) -> None:
    """Point the stream's descriptor at /dev/null: what its buffer still holds would fail again when the
    interpreter flushes it at exit ("Exception ignored ... BrokenPipeError" and exit 120)."""
    with contextlib.suppress(OSError, ValueError):  # no descriptor (a StringIO in tests): nothing to flush at exit
        descriptor = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, descriptor)
        finally:
            os.close(devnull)
