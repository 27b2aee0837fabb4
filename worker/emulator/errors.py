"""Error answers as CSBS and its API gateway give them: a status and ``{"error_code", "error_msg"}``.

Code that finds a request wrong raises ``ApiError``; the app's middleware turns it into the answer in the
scenario's ``error_shape`` (and adds the request id like every other answer). The constructors below are
the table of ``docs/csbs-api.md`` (Errors).

The shapes, all of which the Huawei SDK accepts: ``error_code`` (``{"error_code", "error_msg"}``, the
documented one), ``error`` (``{"error": {"code", "message"}}``), ``errorCode`` (``{"errorCode",
"errorMsg"}``), ``code`` (``{"code", "message"}``) and ``openstack`` (``{"<kind>": {"code", "message"}}``
with the HTTP status as a number for code, e.g. ``{"badRequest": {"code": 400, ...}}``: that shape carries
no service code, so a client can no longer tell a CSBS.3001 from a gateway's 404).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from aiohttp import web

ErrorShape = Literal["error_code", "error", "errorCode", "code", "openstack"]
ERROR_SHAPES: tuple[str, ...] = ("error_code", "error", "errorCode", "code", "openstack")

# OpenStack's fault names by status (Nova/Cinder/Karbor API faults).
_OPENSTACK_KINDS = {
    400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
    409: "conflictingRequest", 413: "overLimit", 429: "overLimit", 500: "computeFault", 501: "notImplemented",
    503: "serviceUnavailable",
}


class ApiError(Exception):
    """An error answer: HTTP status, ``error_code``, ``error_msg`` and any extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self, shape: ErrorShape = "error_code", request_id: str | None = None) -> web.Response:
        """The JSON answer of this error in ``shape``; ``request_id`` goes into the body when given."""
        body = error_body(self.status, self.code, self.message, shape)
        if request_id is not None:
            body["request_id"] = request_id
        return web.json_response(body, status=self.status, headers=self.headers)


class PageError(ApiError):
    """An error a proxy or gateway answers with an HTML page instead of JSON (no shape, no request id)."""

    def __init__(self, status: int, page: str) -> None:
        super().__init__(status, "", page)

    def response(self, shape: ErrorShape = "error_code", request_id: str | None = None) -> web.Response:
        """The HTML page."""
        return web.Response(status=self.status, text=self.message, content_type="text/html", headers=self.headers)


def error_body(status: int, code: str, message: str, shape: ErrorShape) -> dict[str, Any]:
    """The JSON body of an error in one of the shapes (see the module docstring)."""
    if shape == "error":
        return {"error": {"code": code, "message": message}}
    if shape == "errorCode":
        return {"errorCode": code, "errorMsg": message}
    if shape == "code":
        return {"code": code, "message": message}
    if shape == "openstack":
        return {_OPENSTACK_KINDS.get(status, "computeFault"): {"code": status, "message": message}}
    return {"error_code": code, "error_msg": message}


def unauthorized(reason: str) -> ApiError:
    """401 APIG.0301: bad or expired token, bad signature, locked AK, wrong password."""
    return ApiError(401, "APIG.0301", f"Incorrect IAM authentication information: {reason}")


def forbidden(reason: str) -> ApiError:
    """403: authenticated, but not allowed. The docs give no code; APIG.0302 is the gateway's policy refusal."""
    return ApiError(403, "APIG.0302", f"The IAM user is not authorized to access the API: {reason}")


def not_found(what: str) -> ApiError:
    """404 CSBS.3001: the backup (or record) does not exist."""
    return ApiError(404, "CSBS.3001", f"Checkpoint_item ({what}) is not found.")


def marker_not_found(marker: str) -> ApiError:
    """404 CSBS.3001 for a listing whose ``marker`` names a backup deleted since (OpenStack answers 404)."""
    return ApiError(404, "CSBS.3001", f"Marker checkpoint_item ({marker}) could not be found.")


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
