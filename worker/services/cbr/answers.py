"""The one table that maps CBR's HTTP answers onto ``AnswerKind`` (``docs/cbr-api.md``, Errors).

The ``error_code`` decides first, with or without its prefix (HW-DEF writes ``6201`` for
``BackupService.6201``; point 15), then the HTTP status, because the status of a code differs between
doc versions.

==========  ======================================================================  ===============
kind        codes (then statuses)                                                   caller does
==========  ======================================================================  ===============
GONE        BackupService.6200, CSBS.3001, BackupService.6105 (vault), .6500 (log)  the object is gone
NO_SERVICE  APIGW.0101 / APIG.0101; any 404 without a service code                  never "gone": retry,
                                                                                    fatal in a preflight
BUSY        CSBS.2003, BackupService.6216, .6203, .0002, .7009; 409                 wait, send again
BUSY (cap)  BackupService.6201, .6112: busy ``BUSY_LIMITS[code]`` times, then        then the task fails
            permanent
PERMANENT   BackupService.6204 (image), .6710, .6711 (shared), .6220 (WORM),        this task fails
            .9900 (bad parameter), CSBS.8007; other 4xx
FATAL       APIGW.0301 / APIG.0301, BackupService.8600, .4008, .9998; 401, 403      abort (exit 3), after
                                                                                    bounded renewals
THROTTLED   APIG.0308 / APIGW.0308; 429                                             back off, retry
TRANSIENT   BackupService.9910, .4004, APIG.0201; 500, 502, 503, 504                back off, retry
==========  ======================================================================  ===============

The 401 ``{"unauthorized": {"code": "401", "message": "Malformed request url"}}`` (point 6) classifies
as FATAL here; ``is_malformed_url`` marks it, and the client counts it as GONE only after
``check_credentials`` has just succeeded with the same credentials.
"""

from __future__ import annotations

from worker.cloud.wire import classify_status
from worker.engine.answer import Answer, AnswerKind

_K = AnswerKind
CODE_KINDS: dict[str, AnswerKind] = {
    "BackupService.6200": _K.GONE,  # backup does not exist
    "CSBS.3001": _K.GONE,  # backup does not exist (HW-DEF DeleteBackup)
    "BackupService.6105": _K.GONE,  # vault does not exist: nor do its backups
    "BackupService.6500": _K.GONE,  # operation log does not exist
    "APIGW.0101": _K.NO_SERVICE,  # the gateway has no such API: configuration, not "gone"
    "APIG.0101": _K.NO_SERVICE,
    "CSBS.2003": _K.BUSY,  # being processed (a repeated DELETE)
    "BackupService.6216": _K.BUSY,  # in use, try again later
    "BackupService.6203": _K.BUSY,  # performing backups
    "BackupService.0002": _K.BUSY,  # resources being backed up
    "BackupService.7009": _K.BUSY,  # disk backup lazy-loading after deletion
    "BackupService.6201": _K.BUSY,  # cannot be deleted: try again, then contact support (capped)
    "BackupService.6112": _K.BUSY,  # invalid vault status (deleting/frozen) (capped)
    "BackupService.6204": _K.PERMANENT,  # used to create an image: the image must go first
    "BackupService.6710": _K.PERMANENT,  # shared backup registered to an image
    "BackupService.6711": _K.PERMANENT,  # shared backup deletion failed
    "BackupService.6220": _K.PERMANENT,  # automatic backup in a locked vault (WORM) before expiry
    "BackupService.9900": _K.PERMANENT,  # parameter verification failed (a bad id)
    "CSBS.8007": _K.PERMANENT,  # registered to an image (CSBS code, same backend)
    "APIGW.0301": _K.FATAL,  # bad token or signature
    "APIG.0301": _K.FATAL,
    "BackupService.8600": _K.FATAL,  # not (real-name) authenticated / no permission
    "BackupService.4008": _K.FATAL,  # the project may not use the service
    "BackupService.9998": _K.FATAL,  # "Authentication failed" (a 500): re-authenticate (bounded), then fatal
    "APIG.0308": _K.THROTTLED,
    "APIGW.0308": _K.THROTTLED,
    "BackupService.9910": _K.TRANSIENT,  # unknown error
    "BackupService.4004": _K.TRANSIENT,  # failed to clean up data
    "APIG.0201": _K.TRANSIENT,  # backend timeout
}

BUSY_LIMITS: dict[str, int] = {"BackupService.6201": 3, "BackupService.6112": 3}
"""Busy codes that turn permanent after this many busy answers for one task."""

REAUTH_CODES = frozenset({"BackupService.9998"})
"""Codes (besides any 401) after which the transport renews the sign-in (at most three times in a row)."""

MALFORMED_URL = "Malformed request url"

_BARE: dict[str, str] = {}
for _code in CODE_KINDS:  # "6200" -> "BackupService.6200"; BackupService codes win a shared number
    _BARE.setdefault(_code.partition(".")[2], _code)


def full_code(error_code: str | None) -> str | None:
    """The prefixed code of a bare number (``6200`` -> ``BackupService.6200``); others unchanged."""
    if error_code is None:
        return None
    return _BARE.get(error_code, error_code) if error_code not in CODE_KINDS else error_code


def classify(status: int, error_code: str | None) -> AnswerKind:
    """Map an HTTP status and the body's error code to an ``AnswerKind`` (the module table)."""
    if 200 <= status < 300:
        return _K.OK
    code = full_code(error_code)
    if code is not None and code in CODE_KINDS:
        return CODE_KINDS[code]
    return classify_status(status)


def busy_limit(answer: Answer) -> int | None:
    """How many busy answers of this code a task may take before it fails; None = no cap."""
    code = full_code(answer.error_code)
    return BUSY_LIMITS.get(code) if code is not None else None


def is_malformed_url(answer: Answer) -> bool:
    """The 401 "Malformed request url" that TF-HW reads as 404 (point 6): gone only if credentials work."""
    return answer.status == 401 and (answer.error_msg or "").strip().lower() == MALFORMED_URL.lower()


def needs_reauth(answer: Answer) -> bool:
    """A 401 (but not the malformed-url one) or ``BackupService.9998``: renew the sign-in (bounded)."""
    if is_malformed_url(answer):
        return False
    return answer.status == 401 or full_code(answer.error_code) in REAUTH_CODES
