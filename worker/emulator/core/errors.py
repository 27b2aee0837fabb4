"""The one error type of both faces: an HTTP status, a service code, a message, extra headers.

Code that finds a request wrong raises ``ApiError``; the pipeline writes it in the face's ``ErrorStyle``
and stamps the request id like every other answer. A face names its own codes in its ``errors`` module
(the tables of ``docs/csbs-api.md`` and ``docs/cbr-api.md``); only the gateway's and IAM's answers, the
same in front of both services, are here.

The body shapes, all of which the Huawei SDK accepts: ``error_code`` (``{"error_code", "error_msg"}``, the
documented one), ``error`` (``{"error": {"code", "message"}}``), ``errorCode`` (``{"errorCode",
"errorMsg"}``), ``code`` (``{"code", "message"}``) and ``openstack`` (``{"<kind>": {"code", "message"}}``
with the HTTP status as a number for code, e.g. ``{"badRequest": {"code": 400, ...}}``: that shape carries
no service code, so a client can no longer tell a CSBS.3001 from a gateway's 404).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aiohttp import web

ErrorShape = Literal["error_code", "error", "errorCode", "code", "openstack"]
ERROR_SHAPES: tuple[str, ...] = ("error_code", "error", "errorCode", "code", "openstack")

# OpenStack's fault names by status (Nova/Cinder/Karbor API faults).
_OPENSTACK_KINDS = {
    400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
    409: "conflictingRequest", 413: "overLimit", 429: "overLimit", 500: "computeFault", 501: "notImplemented",
    503: "serviceUnavailable",
}


@dataclass(frozen=True)
class ErrorStyle:
    """How a face writes its errors (data from its scenario).

    Args:
        shape: the body shape (see the module docstring).
        bare_prefixes: code prefixes left out, e.g. ``("BackupService.",)`` writes ``6200`` for
            ``BackupService.6200``; gateway codes keep theirs.
        request_id_in_body: error bodies carry ``request_id``, and no answer has an ``X-Request-Id`` header.
    """

    shape: ErrorShape = "error_code"
    bare_prefixes: tuple[str, ...] = ()
    request_id_in_body: bool = False

    def body(self, status: int, code: str, message: str) -> dict[str, Any]:
        """The JSON body of an error in this style."""
        code = next((code.removeprefix(p) for p in self.bare_prefixes if code.startswith(p)), code)
        return error_body(status, code, message, self.shape)


PLAIN = ErrorStyle()


class ApiError(Exception):
    """An error answer: HTTP status, service code, message, any extra headers, and (rarely) a whole body of
    its own shape that no style changes."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None,
                 body: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.body = dict(body) if body is not None else None

    def response(self, style: ErrorStyle = PLAIN, request_id: str | None = None) -> web.Response:
        """The JSON answer in ``style``; ``request_id`` goes into the body when the style says so."""
        body = dict(self.body) if self.body is not None else style.body(self.status, self.code, self.message)
        if request_id is not None and style.request_id_in_body:
            body["request_id"] = request_id
        return web.json_response(body, status=self.status, headers=self.headers)


@dataclass(frozen=True)
class ErrorCode:
    """One row of a face's table of errors: status, code, and the message with ``{}`` for the values
    (an id, a reason). Called with the values, it is the ``ApiError`` to raise."""

    status: int
    code: str
    message: str

    def __call__(self, *values: object) -> ApiError:
        """The error, its message filled in with ``values``."""
        return ApiError(self.status, self.code, self.message.format(*values))


class PageError(ApiError):
    """An error a proxy or gateway answers with an HTML page instead of JSON (no style, no request id)."""

    def __init__(self, status: int, page: str) -> None:
        super().__init__(status, "", page)

    def response(self, style: ErrorStyle = PLAIN, request_id: str | None = None) -> web.Response:
        """The HTML page."""
        return web.Response(status=self.status, text=self.message, content_type="text/html", headers=self.headers)


class FaceErrors(Protocol):
    """The errors a face answers where the core decides (faults, the gateway, bugs): a face's ``errors``
    module is one."""

    def unauthorized(self, reason: str) -> ApiError: ...

    def forbidden(self, reason: str) -> ApiError: ...

    def bad_parameter(self, reason: str) -> ApiError: ...

    def throttled(self, retry_after_s: float | None) -> ApiError: ...

    def internal_error(self) -> ApiError: ...

    def unavailable(self) -> ApiError: ...

    def no_such_api(self) -> ApiError: ...

    def gateway_not_found(self, flavour: str) -> ApiError: ...


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


unauthorized = ErrorCode(401, "APIG.0301", "Incorrect IAM authentication information: {}")
"""401 APIG.0301, the gateway's (IAM's) refusal: bad or expired token, bad signature, locked AK, wrong password."""
bad_sign_in = ErrorCode(400, "CSBS.9000", "Invalid parameter: {}")
"""400 for a sign-in body of another shape. IAM documents no code; CSBS.9000 is the emulator's own, in front
of both faces."""


def seconds_text(seconds: float) -> str:
    """Whole seconds as an integer (``"2"``); fractions kept (``"0.2"``) so fast tests can use them."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
