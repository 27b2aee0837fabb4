"""structlog configuration: JSON lines off a terminal, readable lines on one, always to stderr."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

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
    """Put ``timestamp``, ``level`` and ``event`` first, so JSON lines read as design.md shows them."""
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


def wants_json(log_format: str, stream: TextIO) -> bool:
    """True when lines should be JSON: asked for, or ``auto`` and the stream is not a terminal."""
    return log_format == "json" or (log_format == "auto" and not stream.isatty())


def configure_logging(log_format: str = "auto", level: str = "info", stream: TextIO | None = None,
                      write: Callable[[str], None] | None = None) -> bool:
    """Set up structlog for the process; returns True when the lines are JSON.

    ``write`` receives each rendered line (default: print to ``stream``, which defaults to stderr).
    """
    out = stream or sys.stderr
    as_json = wants_json(log_format, out)
    renderer: Any = (structlog.processors.JSONRenderer() if as_json
                     else structlog.dev.ConsoleRenderer(colors=out.isatty()))
    sink = write or (lambda line: print(line, file=out, flush=True))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            drop_empty,
            redact_secrets,
            structlog.processors.format_exc_info,
            lead_with_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=lambda *_: LineLogger(sink),
        cache_logger_on_first_use=False,
    )
    return as_json
