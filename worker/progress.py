"""Progress while a run goes: a live bar on a terminal, a ``progress`` event every 30 s off one."""

from __future__ import annotations

import asyncio
from typing import TextIO

import structlog

from worker.outcomes import Outcome
from worker.scheduler import RunProgress

log = structlog.get_logger()


class StatusLine:
    """The last line of a terminal, kept for the bar; log lines are written above it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self._text = ""

    def write(self, line: str) -> None:
        """Write one log line without tearing the bar."""
        if self.enabled and self._text:
            self.stream.write("\r\x1b[K" + line + "\n" + self._text)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def show(self, text: str) -> None:
        self._text = text
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()

    def clear(self) -> None:
        if self._text:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._text = ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def bar_text(progress: RunProgress, width: int = 28) -> str:
    """One line: bar, done, failed, in flight, rate and ETA."""
    finished = progress.finished
    filled = int(width * finished / progress.total) if progress.total else width
    done = progress.ended[Outcome.DELETED] + progress.ended[Outcome.ALREADY_ABSENT]
    failed = progress.ended[Outcome.FAILED] + progress.ended[Outcome.TIMED_OUT]
    return (f"[{'#' * filled}{'.' * (width - filled)}] {finished}/{progress.total} "
            f"done {done} failed {failed} in flight {progress.in_flight} "
            f"{progress.rate_per_s() * 60:.1f}/min ETA {_duration(progress.eta_s())}")


def progress_fields(progress: RunProgress) -> dict[str, object]:
    """The fields of a ``progress`` event."""
    fields: dict[str, object] = {str(outcome): progress.ended[outcome] for outcome in Outcome
                                 if outcome is not Outcome.NOT_ATTEMPTED}
    eta = progress.eta_s()
    fields.update(total=progress.total, finished=progress.finished, in_flight=progress.in_flight,
                  rate_per_min=round(progress.rate_per_s() * 60, 2), eta_s=round(eta) if eta is not None else None)
    return fields


async def report_progress(progress: RunProgress, status: StatusLine, interval_s: float) -> None:
    """Until cancelled: redraw the bar twice a second on a terminal, else log ``progress`` every interval."""
    try:
        while True:
            if status.enabled:
                status.show(bar_text(progress))
                await asyncio.sleep(0.5)
            else:
                await asyncio.sleep(interval_s)
                log.info("progress", **progress_fields(progress))
    finally:
        status.clear()
