"""The answer of one call, in the engine's words: what it means for the caller, never raw HTTP.

A service's client turns every HTTP answer (or the lack of one) into an ``Answer`` through its own table of
kinds (``worker.services.csbs.answers``, ``worker.services.cbr.answers``); the engine decides on the kind
alone, so it needs no HTTP library and knows no service.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class AnswerKind(enum.StrEnum):
    """What an answer means for the caller (see the module table)."""

    OK = "ok"
    GONE = "gone"
    NO_SERVICE = "no_service"  # the endpoint answered, but not as the service's API
    BUSY = "busy"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    FATAL = "fatal"


# NO_SERVICE is retried: a gateway hiccup mid-run must cost time, never read as gone.
RETRYABLE_KINDS = frozenset({AnswerKind.THROTTLED, AnswerKind.TRANSIENT, AnswerKind.NO_SERVICE})


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of a service's API (or of the network, when no HTTP answer came).

    ``status`` is None when the request never got an HTTP answer (connection dropped, timeout).
    ``data`` is the decoded JSON body of an OK answer.
    ``server_time`` is the server's clock (POSIX seconds) from the answer's ``Date`` header; None when the
    header is absent or unreadable, or no HTTP answer came.
    ``signin_refused`` marks a refusal of the credentials rather than of the call: it ends every target that
    signs in with them (``AbortScope.USER``).
    """

    kind: AnswerKind
    status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    request_id: str | None = None
    retry_after_s: float | None = None
    server_time: float | None = None
    data: Any = None
    signin_refused: bool = False  # the sign-in itself was refused (a login, or renewals that keep failing)

    @property
    def retryable(self) -> bool:
        """True for throttled, transient and no-service answers (``RETRYABLE_KINDS``)."""
        return self.kind in RETRYABLE_KINDS

    def log_fields(self) -> dict[str, Any]:
        """The fields every error event carries (``docs/design.md``: http_status, error_code, request_id)."""
        return {
            "http_status": self.status,
            "error_code": self.error_code,
            "error_msg": self.error_msg,
            "request_id": self.request_id,
        }


def refuses_signin(answer: Answer) -> bool:
    """True when the answer refuses the credentials (any 401, or a refused sign-in), not one project or call."""
    return answer.signin_refused or answer.status == 401
