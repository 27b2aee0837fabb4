"""The lifecycle every command shares: settings and logging, stops, one cancel scope, errors to exit codes.

``execute`` loads the settings (a bad one is exit 2 before anything else), configures logging with the
run's secrets masked, then runs the command's phases as one task on the event loop. A stop (SIGTERM,
SIGINT, ``--deadline``) cancels that task in whatever phase it is, except while deletions are in flight:
those get ``--grace`` (the scheduler's ``request_stop``), and a second stop cancels them too
(docs/design.md, "Stops"). Whatever ended the phases, ``finish`` runs: summary, report, metrics.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Mapping
from typing import Any

import structlog

from worker.display import Display
from worker.engine.clock import Clock, LoopClock
from worker.engine.outcomes import ExitCode
from worker.engine.scheduler import Scheduler
from worker.errors import CsbsWorkerError, UsageError
from worker.logs import configure_logging, wants_json
from worker.redact import Redactor
from worker.settings import LOG_FORMATS, SECRET_ENV, Settings, load_settings, settings_warnings
from worker.stopping import StopRequests

log = structlog.get_logger()


class Lifecycle:
    """One command's run. Subclasses give ``phases`` (the work) and ``finish`` (what is written at the end)."""

    command = "delete"  # the settings a command uses (``SettingSpec.commands``)

    def __init__(self, flags: Mapping[str, Any], stops: StopRequests) -> None:
        self.flags = flags
        self.stops = stops
        self.redactor = Redactor()
        self.redactor.add_env(os.environ, SECRET_ENV)  # known before the first line is logged
        self.run_id = uuid.uuid4().hex[:16]
        self.stop_reason: str | None = None
        self.scheduler: Scheduler | None = None  # set while deletions run: stops then go through it
        self.display: Display | None = None
        self._phases: asyncio.Task[None] | None = None
        self._clock: Clock | None = None

    @property
    def clock(self) -> Clock:
        assert self._clock is not None, "the clock exists once the event loop runs"
        return self._clock

    def execute(self) -> int:
        """Run the command; returns its exit code."""
        try:
            settings = load_settings(self.flags)
        except UsageError as error:
            fallback = str(self.flags.get("log_format") or "auto")
            self._configure_logging(fallback if fallback in LOG_FORMATS else "auto", "info")
            assert self.display is not None
            self.display.bad_input(error, deleted=0)
            return ExitCode.USAGE
        self._configure_logging(settings.log_format, settings.log_level)
        for warning in settings_warnings(settings, os.environ, self.command):
            log.warning("setting_warning", detail=warning)
        structlog.contextvars.bind_contextvars(run_id=self.run_id)
        try:
            return asyncio.run(self._lifecycle(settings))
        finally:
            structlog.contextvars.clear_contextvars()

    def _configure_logging(self, log_format: str, level: str) -> None:
        self.display = Display(sys.stderr, as_json=wants_json(log_format, sys.stderr), redactor=self.redactor)
        configure_logging(log_format, level, write=self.display.write, redactor=self.redactor)

    async def _lifecycle(self, settings: Settings) -> int:
        self._clock = LoopClock()
        self._phases = asyncio.create_task(self.phases(settings), name="phases")
        self.stops.install(settings.deadline_s, self.request_stop)
        try:
            await asyncio.wait({self._phases})
            error = self._phases_error()
            return int(await self.finish(settings, error))
        finally:
            self.stops.remove()

    def _phases_error(self) -> CsbsWorkerError | None:
        """What stopped the phases on purpose; a bug is logged with its traceback and counts as exit 1."""
        assert self._phases is not None
        if self._phases.cancelled():
            return None
        error = self._phases.exception()
        if error is None or isinstance(error, CsbsWorkerError):
            return error
        log.error("run_crashed", error=f"{type(error).__name__}: {error}", exc_info=error)
        return CsbsWorkerError(f"the worker failed: {type(error).__name__}: {error}")

    def request_stop(self, reason: str) -> None:
        """A stop from a signal or the deadline, in whatever phase the run is."""
        first = self.stop_reason is None
        self.stop_reason = self.stop_reason or reason
        if self.scheduler is not None and not self._done():
            self.scheduler.request_stop(reason)
            return
        log.warning("run_stopping" if first else "run_stop_now", reason=reason, in_flight=0)
        if self._phases is not None and not self._phases.done():
            self._phases.cancel()

    def _done(self) -> bool:
        return self._phases is None or self._phases.done()

    @property
    def stopped(self) -> bool:
        return self.stop_reason is not None

    async def phases(self, settings: Settings) -> None:
        raise NotImplementedError

    async def finish(self, settings: Settings, error: CsbsWorkerError | None) -> ExitCode:
        raise NotImplementedError

    def log_error(self, error: CsbsWorkerError) -> None:
        """The one error event of a run that an error ended."""
        if isinstance(error, UsageError):
            assert self.display is not None
            self.display.bad_input(error, deleted=0)
        elif error.exit_code is ExitCode.ABORTED:
            log.error("run_aborted", reason=str(error))
        else:
            log.error("run_failed", reason=str(error))
