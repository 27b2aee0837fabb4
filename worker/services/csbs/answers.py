"""The one table that maps the CSBS API's HTTP answers onto ``AnswerKind`` (codes first, then the kernel's
status table, ``worker.cloud.wire.classify_status``).

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
FATAL       401 after the bounded renewals of the sign-in, 403,            abort the run (exit 3)
            BackupService.4008, CSBS.9001 (provider invalid)
==========  =============================================================  =============================

Only the service itself can say an object is gone: a 404 from the gateway in front of it (wrong endpoint or
path prefix, an API not published there, a proxy) proves nothing about the backup (``docs/csbs-api.md``,
Errors). ``Answer.server_time`` is the server's clock from the ``Date`` header of the answer.
"""

from __future__ import annotations

from worker.cloud.wire import classify_status
from worker.engine.answer import AnswerKind

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

def classify(status: int, error_code: str | None) -> AnswerKind:
    """Map an HTTP status and the body's error code to an ``AnswerKind`` (the module table)."""
    if 200 <= status < 300:
        return AnswerKind.OK
    if error_code is not None and error_code in _CODE_KINDS:
        return _CODE_KINDS[error_code]
    if status == 404 and error_code is not None and error_code.startswith("CSBS."):
        return AnswerKind.GONE  # the service's own not-found answer
    return classify_status(status)
