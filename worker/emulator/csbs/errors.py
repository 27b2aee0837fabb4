"""Error answers as CSBS and its API gateway give them: a status and ``{"error_code", "error_msg"}``.

Code that finds a request wrong raises one of these (``worker.emulator.core.errors.ApiError``); the
pipeline writes it in the scenario's ``error_shape`` and adds the request id like every other answer.
The constructors below are the table of ``docs/csbs-api.md`` (Errors); together they are this face's
``FaceErrors``.
"""

from __future__ import annotations

from worker.emulator.core.errors import ApiError, ErrorCode, PageError, seconds_text
from worker.emulator.core.errors import unauthorized as unauthorized  # 401 APIG.0301, the gateway's

RATE_LIMIT_PER_MINUTE = 100  # the N of "over ratelimit, limit:N, time:1 minute"; no CSBS limit is published


# -- the caller ----------------------------------------------------------------------------------------------

forbidden = ErrorCode(403, "APIG.0302", "The IAM user is not authorized to access the API: {}")
"""403: authenticated, but not allowed. The docs give no code; APIG.0302 is the gateway's policy refusal."""
project_disabled = ErrorCode(400, "BackupService.4008", "New project are not allowed to use old services.")
"""400 BackupService.4008: new projects may not use CSBS."""

# -- what is not (any more) there ----------------------------------------------------------------------------

not_found = ErrorCode(404, "CSBS.3001", "Checkpoint_item ({}) is not found.")
"""404 CSBS.3001: the backup (or record) does not exist."""
marker_not_found = ErrorCode(404, "CSBS.3001", "Marker checkpoint_item ({}) could not be found.")
"""404 CSBS.3001 for a listing whose ``marker`` names a backup deleted since (OpenStack answers 404)."""

GATEWAY_MESSAGE = "The API does not exist or has not been published in the environment"
GATEWAY_PAGE = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>"
    "\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def gateway_not_found(flavour: str) -> ApiError:
    """The 404 of an endpoint that serves no CSBS API: ``apigw`` (APIGW.0101), ``apig`` (APIG.0101), ``html``."""
    if flavour == "html":
        return PageError(404, GATEWAY_PAGE)
    return ApiError(404, "APIGW.0101" if flavour == "apigw" else "APIG.0101", GATEWAY_MESSAGE)


def no_such_api() -> ApiError:
    """The gateway's 404 (APIG.0101) for a path or method the API does not have."""
    return gateway_not_found("apig")


# -- the request ---------------------------------------------------------------------------------------------

bad_parameter = ErrorCode(400, "CSBS.9000", "Invalid parameter: {}")
"""400 for a malformed query or body. The docs list no code for this; CSBS.9000 is the emulator's own."""
provider_invalid = ErrorCode(400, "CSBS.9001", "provider invalid")
"""400 CSBS.9001: the provider id in the path is not CSBS's."""
image_registered = ErrorCode(400, "CSBS.8007", "The backup {} has register to image, can't be delete")
"""400 CSBS.8007: the backup is registered to an image and cannot be deleted."""


def busy(item_id: str, mode: str) -> ApiError:
    """Something runs on the backup: 400 CSBS.2003, or 409 when the scenario reads the silent point so."""
    return ApiError(400 if mode == "400" else 409, "CSBS.2003", f"item in executing: {item_id}")


# -- transient -----------------------------------------------------------------------------------------------

internal_error = ErrorCode(500, "CSBS.9999", "delete checkpoint failed")
"""500 CSBS.9999: internal error (transient)."""
unavailable = ErrorCode(503, "APIG.0201", "Backend unavailable")
"""503: the service is unavailable. The docs give no code; APIG.0201 is the gateway's backend-unavailable."""


def throttled(retry_after_s: float | None) -> ApiError:
    """429 APIG.0308; with ``Retry-After`` only when ``retry_after_s`` is given."""
    headers = {} if retry_after_s is None else {"Retry-After": seconds_text(retry_after_s)}
    return ApiError(429, "APIG.0308", f"over ratelimit, limit:{RATE_LIMIT_PER_MINUTE}, time:1 minute", headers)
