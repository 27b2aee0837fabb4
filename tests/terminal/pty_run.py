"""Run the real CLI in a pseudo-terminal of a given size and replay what it wrote on a screen model.

The child gets the pty as stdin, stdout and stderr (so it sees a terminal, as a person's shell gives it);
``pyte`` replays the bytes on a screen with scrollback, so a test reads what a person would see, including
anything that scrolled away.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyte

ROWS = 40
TIMEOUT_S = 60.0


@dataclass
class TerminalRun:
    """What a person saw: the exit code, every line (scrollback, then the screen) and the raw output."""

    code: int
    lines: list[str]
    raw: str

    def text(self) -> str:
        return "\n".join(self.lines)

    def lines_with(self, *words: str) -> list[str]:
        return [line for line in self.lines if all(word in line for word in words)]


def _set_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def _read_all(master: int, process: subprocess.Popen[bytes]) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed its side: all is read
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    else:
        process.kill()
        raise AssertionError(f"the run did not end within {TIMEOUT_S} s")
    return b"".join(chunks)


def _screen_lines(raw: str, columns: int) -> list[str]:
    screen = pyte.HistoryScreen(columns, ROWS, history=100000)
    stream = pyte.Stream(screen)
    stream.feed(raw.replace("\n", "\r\n"))  # the pty's output processing (onlcr), which pyte does not do
    def render(row: object) -> str:
        return "".join(row[x].data for x in range(columns)).rstrip()  # type: ignore[index]
    history = [render(row) for row in screen.history.top]
    visible = [line.rstrip() for line in screen.display]
    while visible and not visible[-1]:
        visible.pop()
    return history + visible


def run_in_terminal(argv: Sequence[str], *, columns: int, env: Mapping[str, str] | None = None,
                    cwd: str | None = None) -> TerminalRun:
    """``python -m worker ARGV`` in a ``columns`` x 40 terminal; returns what was seen."""
    master, slave = pty.openpty()
    _set_size(slave, columns, ROWS)
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR  # keep newlines as written; _screen_lines does the CR+LF itself
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    child_env = {name: value for name, value in os.environ.items()
                 if not name.startswith(("CSBS_", "HUAWEICLOUD_", "NO_COLOR", "COLUMNS", "LINES"))}
    child_env.update({"TERM": "xterm-256color", **(env or {})})
    process = subprocess.Popen([sys.executable, "-m", "worker", *argv], stdin=slave, stdout=slave, stderr=slave,
                               env=child_env, cwd=cwd, close_fds=True)
    os.close(slave)
    try:
        raw = _read_all(master, process).decode("utf-8", "replace")
        code = process.wait(10)
    finally:
        os.close(master)
    return TerminalRun(code, _screen_lines(raw, columns), raw)
