"""The terminal of a run: log lines scroll above a live panel pinned at the bottom (rich), plain lines off one.

The panel is redrawn in place by ``rich.live.Live``, which knows its own height at the console's width, so
no copy of it is left in the scrollback at any width; log lines go through the same console, which prints
them above the panel. Off a terminal (or with JSON lines) nothing but the lines is written.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TextIO

import structlog
from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from worker.engine.outcomes import Outcome
from worker.engine.scheduler import LiveTask, RunProgress
from worker.errors import PlanError, PolicyError, SettingsError
from worker.output import write_nowhere
from worker.redact import Redactor

log = structlog.get_logger()

SHORT_ID = 8  # characters of an id on screen: enough to tell tasks apart, the report has them whole
MAX_ROWS = 8  # tasks in flight listed at most (more only while timed-out tasks hold slots)
REFRESH_S = 0.5  # twice a second: the clocks of the tasks move, the terminal stays calm


def short(identifier: str | None) -> str:
    """The first 8 characters of an id, or ``-`` for none (a whole record has no backup id)."""
    return identifier[:SHORT_ID] if identifier else "-"


def clock(seconds: float | None) -> str:
    """``mm:ss`` or ``h:mm:ss``; ``--:--`` when unknown."""
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _counters(progress: RunProgress) -> Text:
    done = progress.ended[Outcome.DELETED] + progress.ended[Outcome.ALREADY_ABSENT]
    failed = progress.ended[Outcome.FAILED] + progress.ended[Outcome.TIMED_OUT]
    line = Text()
    line.append(f"{progress.finished}/{progress.total}  ", style="bold")
    line.append(f"done {done}", style="green")
    line.append("  ")
    line.append(f"failed {failed}", style="red" if failed else "")
    aside = f"  busy, aside {progress.aside}" if progress.aside else ""
    line.append(f"  in flight {progress.in_flight}{aside}  {progress.rate_per_s() * 60:.1f}/min  "
                f"ETA {clock(progress.eta_s())}")
    return line


def _state(task: LiveTask) -> str:
    return task.state if task.progress is None else f"{task.state} {task.progress}%"


def _tasks_table(live: Mapping[Hashable, LiveTask], now: float) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
    table.add_column("checkpoint", no_wrap=True)
    table.add_column("backup", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("for", justify="right", no_wrap=True)
    tasks = list(live.values())  # a copy: the scheduler changes the dict while the panel is drawn
    for task in tasks[:MAX_ROWS]:
        table.add_row(short(task.container_id), short(task.backup_id), _state(task), clock(now - task.started_at))
    if len(tasks) > MAX_ROWS:
        table.add_row(f"+{len(tasks) - MAX_ROWS} more", "", "", "")
    return table


def _what_to_do(error: Exception) -> str:
    if isinstance(error, PlanError):
        return "fix the plan and run again (nothing was deleted)"
    if isinstance(error, PolicyError):
        return "fix the policy and run again (nothing was deleted)"
    if isinstance(error, SettingsError):
        return "fix the setting; `csbs-worker COMMAND --help` lists them all"
    return "nothing was deleted; `csbs-worker COMMAND --help` shows the usage"


def error_line(error: Exception) -> str:
    """One line as a person writes it: ``csbs-worker: error: WHAT IS WRONG; WHAT TO DO``."""
    what = " ".join(str(error).split())  # one line, whatever the message held
    if "; " not in what:  # the message says what to do already when it has a second clause
        what = f"{what}; {_what_to_do(error)}"
    return f"csbs-worker: error: {what}"


def live_panel(progress: RunProgress) -> RenderableType:
    """The panel: a bar with done / failed / in flight / rate / ETA, then the tasks in flight."""
    panel = Table.grid(expand=True)  # one row each: a bar alone would share its line with what follows
    panel.add_column()
    panel.add_row(ProgressBar(total=max(progress.total, 1), completed=progress.finished))
    panel.add_row(_counters(progress))
    if progress.live:
        panel.add_row(_tasks_table(progress.live, progress.clock.now()))  # the clock of started_at
    return panel


class Display:
    """Where a run writes for people: log lines, the live panel and the summary (the last two on a terminal)."""

    def __init__(self, stream: TextIO, *, as_json: bool = False, redactor: Redactor | None = None) -> None:
        self.stream = stream
        self.redactor = redactor or Redactor()  # the run's secrets: nothing shown for people may hold one
        # JSON lines stay exactly JSON even on a terminal: no panel, no summary in between.
        self.enabled = stream.isatty() and not as_json
        self.console = Console(file=stream, highlight=False, soft_wrap=True) if self.enabled else None
        self._live: Live | None = None

    def write(self, line: str) -> None:
        """Write one log line; on a terminal above the panel (the line's own colours kept)."""
        if self.console is None:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except BrokenPipeError:  # its reader left (`2>&1 | head`): the run goes on to its report, unheard
                write_nowhere(self.stream)
            return
        self.console.print(Text.from_ansi(line))

    def show(self, renderable: RenderableType) -> None:
        """Print something once (the summary) above the panel, on a terminal only."""
        if self.console is not None:
            self.console.print(renderable, soft_wrap=False)

    def bad_input(self, error: Exception, **fields: object) -> None:
        """Bad input: one readable line on a terminal, the ``bad_input`` JSON event off one."""
        if self.console is None:
            log.error("bad_input", error=str(error), **fields)
            return
        self.stream.write(self.redactor.text(error_line(error)) + "\n")
        self.stream.flush()

    def start(self, progress: RunProgress) -> None:
        """Pin the live panel of ``progress`` at the bottom of the terminal until ``stop``."""
        if self.console is None or self._live is not None:
            return
        # transient: the panel is erased at the end, the summary takes its place. No auto refresh: rich's
        # thread would read the counters while the event loop changes them; the loop calls ``refresh``.
        self._live = Live(console=self.console, get_renderable=lambda: live_panel(progress), auto_refresh=False,
                          transient=True, redirect_stdout=False, redirect_stderr=False)
        self._live.start(refresh=True)

    def refresh(self) -> None:
        """Redraw the panel with the counters as they are now."""
        if self._live is not None:
            self._live.refresh()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
