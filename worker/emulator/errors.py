"""Error answers as CSBS and its API gateway give them: a status and ``{"error_code", "error_msg"}``.

Code that finds a request wrong raises ``ApiError``; the app's middleware turns it into the JSON answer
(and adds ``X-Request-Id`` like every other answer). The constructors below are the table of csbs-api.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web


class ApiError(Exception):
    """An error answer: HTTP status, ``error_code``, ``error_msg`` and any extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        """The JSON answer of this error."""
        body = {"error_code": self.code, "error_msg": self.message}
        return web.json_response(body, status=self.status, headers=self.headers)


def unauthorized(reason: str) -> ApiError:
    """401 APIG.0301: bad or expired token, bad signature, locked AK, wrong password."""
    return ApiError(401, "APIG.0301", f"Incorrect IAM authentication information: {reason}")


def forbidden(reason: str) -> ApiError:
    """403: authenticated, but not allowed. The docs give no code; APIG.0302 is the gateway's policy refusal."""
    return ApiError(403, "APIG.0302", f"The IAM user is not authorized to access the API: {reason}")


def not_found(what: str) -> ApiError:
    """404 CSBS.3001: the backup (or record) does not exist."""
    return ApiError(404, "CSBS.3001", f"Checkpoint_item ({what}) is not found.")


def busy(item_id: str, mode: str) -> ApiError:
    """Something runs on the backup: 400 CSBS.2003, or 409 when the scenario reads the silent point so."""
    return ApiError(400 if mode == "400" else 409, "CSBS.2003", f"item in executing: {item_id}")


def image_registered(item_id: str) -> ApiError:
    """400 CSBS.8007: the backup is registered to an image and cannot be deleted."""
    return ApiError(400, "CSBS.8007", f"The backup {item_id} has register to image, can't be delete")


def provider_invalid() -> ApiError:
    """400 CSBS.9001: the provider id in the path is not CSBS's."""
    return ApiError(400, "CSBS.9001", "provider invalid")


def project_disabled() -> ApiError:
    """400 BackupService.4008: new projects may not use CSBS."""
    return ApiError(400, "BackupService.4008", "New project are not allowed to use old services.")


def bad_parameter(reason: str) -> ApiError:
    """400 for a malformed query or body. The docs list no code for this; CSBS.9000 is the emulator's own."""
    return ApiError(400, "CSBS.9000", f"Invalid parameter: {reason}")


def internal_error() -> ApiError:
    """500 CSBS.9999: internal error (transient)."""
    return ApiError(500, "CSBS.9999", "delete checkpoint failed")


def throttled(limit: int, retry_after_s: float | None) -> ApiError:
    """429 APIG.0308; with ``Retry-After`` only when ``retry_after_s`` is given."""
    headers = {} if retry_after_s is None else {"Retry-After": seconds_text(retry_after_s)}
    return ApiError(429, "APIG.0308", f"over ratelimit, limit:{limit}, time:1 minute", headers)


def unavailable() -> ApiError:
    """503: the service is unavailable. The docs give no code; APIG.0201 is the gateway's backend-unavailable."""
    return ApiError(503, "APIG.0201", "Backend unavailable")


def seconds_text(seconds: float) -> str:
    """Whole seconds as an integer (``"2"``); fractions kept (``"0.2"``) so fast tests can use them."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
