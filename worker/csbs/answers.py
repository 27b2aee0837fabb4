"""Typed answers of the CSBS API, and the one table that maps HTTP answers onto them.

Every call of the client returns an ``Answer``; nothing above the client looks at raw HTTP.

==========  =============================================================  =============================
kind        HTTP answers                                                   what the caller does
==========  =============================================================  =============================
OK          2xx                                                            use ``data``
GONE        404 with CSBS.3001 or any other ``CSBS.*`` code                the object does not exist
NO_SERVICE  404 with a gateway code (APIG.*, APIGW.*), another code, no    not the CSBS API answering:
            code, or a non-JSON body (an HTML page)                        retry; fatal in the preflight
BUSY        400 CSBS.2003 / CSBS.2004, 409                                 something runs on it: wait
THROTTLED   429 (APIG.0308 / APIGW.0308); ``retry_after_s`` if sent        back off, then retry
TRANSIENT   500, 502, 503, 504, connection errors, timeouts                back off, then retry
PERMANENT   other 4xx (e.g. 400 CSBS.8007, image-registered backup)        this task fails, others go on
FATAL       401 after a renewed sign-in, 403, BackupService.4008,          abort the run (exit 3)
            CSBS.9001 (provider invalid)
==========  =============================================================  =============================

Only the service itself can say an object is gone: a 404 from the gateway in front of it (wrong endpoint or
path prefix, an API not published there, a proxy) proves nothing about the backup (``docs/csbs-api.md``,
Errors). ``Answer.server_time`` is the server's clock from the ``Date`` header of the answer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class AnswerKind(enum.StrEnum):
    """What an answer means for the caller (see the module table)."""

    OK = "ok"
    GONE = "gone"
    NO_SERVICE = "no_service"  # the endpoint answered, but not as the CSBS API
    BUSY = "busy"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    FATAL = "fatal"


# NO_SERVICE is retried: a gateway hiccup mid-run must cost time, never read as gone.
RETRYABLE_KINDS = frozenset({AnswerKind.THROTTLED, AnswerKind.TRANSIENT, AnswerKind.NO_SERVICE})

# Error codes that decide the kind whatever the status says.
_CODE_KINDS: dict[str, AnswerKind] = {
    "CSBS.2003": AnswerKind.BUSY,  # backing up / restoring / deleting
    "CSBS.2004": AnswerKind.BUSY,  # a policy backup is running
    "CSBS.8007": AnswerKind.PERMANENT,  # registered to an image
    "CSBS.9001": AnswerKind.FATAL,  # provider invalid: configuration
    "BackupService.4008": AnswerKind.FATAL,  # new projects may not use CSBS
    "CSBS.3001": AnswerKind.GONE,
    "APIG.0308": AnswerKind.THROTTLED,
    "APIGW.0308": AnswerKind.THROTTLED,
}

# Kinds by HTTP status when the code does not decide.
_STATUS_KINDS: dict[int, AnswerKind] = {
    401: AnswerKind.FATAL,  # the client renews its sign-in once before it gives this answer
    403: AnswerKind.FATAL,
    404: AnswerKind.NO_SERVICE,  # unless the code is the service's own (see classify)
    409: AnswerKind.BUSY,
    429: AnswerKind.THROTTLED,
    500: AnswerKind.TRANSIENT,
    502: AnswerKind.TRANSIENT,
    503: AnswerKind.TRANSIENT,
    504: AnswerKind.TRANSIENT,
}


def classify(status: int, error_code: str | None) -> AnswerKind:
    """Map an HTTP status and the body's error code to an ``AnswerKind`` (the module table)."""
    if 200 <= status < 300:
        return AnswerKind.OK
    if error_code is not None and error_code in _CODE_KINDS:
        return _CODE_KINDS[error_code]
    if status == 404 and error_code is not None and error_code.startswith("CSBS."):
        return AnswerKind.GONE  # the service's own not-found answer
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    if status >= 500:
        return AnswerKind.TRANSIENT
    return AnswerKind.PERMANENT


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of the CSBS API (or of the network, when no HTTP answer came).

    ``status`` is None when the request never got an HTTP answer (connection dropped, timeout).
    ``data`` is the decoded JSON body of an OK answer.
    ``server_time`` is the server's clock (POSIX seconds) from the answer's ``Date`` header; None when the
    header is absent or unreadable, or no HTTP answer came.
    """

    kind: AnswerKind
    status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    request_id: str | None = None
    retry_after_s: float | None = None
    server_time: float | None = None
    data: Any = None

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
