"""Progress while a run goes: the live panel on a terminal, a ``progress`` event every interval off one."""

from __future__ import annotations

import asyncio

import structlog

from worker.display import REFRESH_S, Display
from worker.engine.outcomes import Outcome
from worker.engine.scheduler import RunProgress

log = structlog.get_logger()


def progress_fields(progress: RunProgress) -> dict[str, object]:
    """The fields of a ``progress`` event."""
    fields: dict[str, object] = {str(outcome): progress.ended[outcome] for outcome in Outcome
                                 if outcome is not Outcome.NOT_ATTEMPTED}
    eta = progress.eta_s()
    fields.update(total=progress.total, finished=progress.finished, in_flight=progress.in_flight, aside=progress.aside,
                  rate_per_min=round(progress.rate_per_s() * 60, 2), eta_s=round(eta) if eta is not None else None)
    return fields


async def report_progress(progress: RunProgress, display: Display, interval_s: float) -> None:
    """Until cancelled: redraw the live panel twice a second on a terminal, else log ``progress``."""
    if display.enabled:
        display.start(progress)
        try:
            while True:
                await asyncio.sleep(REFRESH_S)
                display.refresh()
        finally:
            display.stop()
    while True:
        await asyncio.sleep(interval_s)
        log.info("progress", **progress_fields(progress))
