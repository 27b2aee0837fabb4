"""structlog configuration: JSON lines off a terminal, readable lines on one, always to stderr."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from worker.redact import Redactor

# Keys whose values are never written, whatever a caller passes by mistake (a safety net: the worker
# never logs secrets on purpose).
_SECRET_KEYS = frozenset({"password", "token", "auth_token", "sk", "secret", "security_token", "authorization",
                          "x-auth-token", "x-subject-token", "x-security-token"})


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Replace the value of any secret-looking key by ``***``."""
    for key in _SECRET_KEYS.intersection(event_dict):
        event_dict[key] = "***"
    return event_dict


def drop_empty(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Leave out context keys whose value is None, so lines stay short."""
    return {key: value for key, value in event_dict.items() if value is not None}


_LEADING_KEYS = ("timestamp", "level", "event")


def lead_with_event(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Put ``timestamp``, ``level`` and ``event`` first, so JSON lines read as docs/design.md shows them."""
    ordered = {key: event_dict.pop(key) for key in _LEADING_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


class LineLogger:
    """The wrapped logger: hands each rendered line to ``write`` (so a progress bar can keep out of its way)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def msg(self, message: str) -> None:
        self._write(message)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


# On the console a person reads the line: the run id is the same on every line (the report and the JSON
# lines keep it) and the first 8 characters of an id tell tasks apart (the report has them whole).
_CONSOLE_DROPPED = ("run_id",)
_SHORT_IDS = ("checkpoint_id", "checkpoint_item", "container_id", "backup_id", "vault_id", "request_id")
SHORT_ID_LENGTH = 8


def shorten_for_console(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Leave out ``run_id`` and cut ids to 8 characters, so routine console lines stay short."""
    for key in _CONSOLE_DROPPED:
        event_dict.pop(key, None)
    for key in _SHORT_IDS:
        value = event_dict.get(key)
        if isinstance(value, str) and len(value) > SHORT_ID_LENGTH:
            event_dict[key] = value[:SHORT_ID_LENGTH]
    return event_dict


def wants_color(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    env = os.environ if env is None else env
    return stream.isatty() and not env.get("NO_COLOR")


def wants_json(log_format: str, stream: TextIO) -> bool:
    """True when lines should be JSON: asked for, or ``auto`` and the stream is not a terminal."""
    return log_format == "json" or (log_format == "auto" and not stream.isatty())


def _renderer_chain(as_json: bool, colors: bool) -> list[Processor]:
    """The format-specific tail: ISO UTC time and JSON, or HH:MM:SS, short ids and coloured levels."""
    if as_json:
        return [structlog.processors.TimeStamper(fmt="iso", utc=True), lead_with_event,
                structlog.processors.JSONRenderer()]
    return [structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False), shorten_for_console, lead_with_event,
            structlog.dev.ConsoleRenderer(colors=colors, pad_event_to=22)]


def configure_logging(log_format: str = "auto", level: str = "info", stream: TextIO | None = None,
                      write: Callable[[str], None] | None = None, redactor: Redactor | None = None) -> bool:
    """Set up structlog for the process; returns True when the lines are JSON.

    ``write`` receives each rendered line (default: print to ``stream``, which defaults to stderr);
    ``redactor`` masks the run's secret values in every string of every line.
    """
    out = stream or sys.stderr
    as_json = wants_json(log_format, out)
    sink = write or (lambda line: print(line, file=out, flush=True))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            drop_empty,
            redact_secrets,
            structlog.processors.format_exc_info,
            (redactor or Redactor()).processor,  # after the traceback is text: it may hold a secret too
            *_renderer_chain(as_json, wants_color(out)),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=lambda *_: LineLogger(sink),
        cache_logger_on_first_use=False,
    )
    return as_json
