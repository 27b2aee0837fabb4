"""Reading HTTP answers into ``Answer`` values: the status, the error fields, the request id and the clocks.

Shared by the transport (``worker.cloud.transport``, with each service's own table of kinds: its ``classify``)
and the sign-ins. Nothing here sends a request.

Error bodies come in every shape the Huawei SDK accepts (``docs/csbs-api.md``, Errors):
``{"error_code", "error_msg"}``, ``{"error": {"code", "message"}}``, ``{"errorCode", "errorMsg"}``,
``{"code", "message"}`` and OpenStack's ``{"<kind>": {"code", "message"}}`` (e.g. ``badRequest``,
``itemNotFound``). A numeric code becomes a string. The request id is the ``X-Request-Id`` header, else
``request_id`` in the body.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from worker.engine.answer import Answer, AnswerKind

Classify = Callable[[int, str | None], AnswerKind]
"""Maps an HTTP status and the body's error code to a kind (each service has its table: ``classify``)."""

# Kinds by HTTP status when no code of the service decides: the same for every Huawei API (and IAM).
_STATUS_KINDS: dict[int, AnswerKind] = {
    401: AnswerKind.FATAL,  # the transport renews the sign-in (bounded) before it gives this answer
    403: AnswerKind.FATAL,
    404: AnswerKind.NO_SERVICE,  # without the service's own code, a 404 proves nothing about an object
    409: AnswerKind.BUSY,
    429: AnswerKind.THROTTLED,
    500: AnswerKind.TRANSIENT,
    502: AnswerKind.TRANSIENT,
    503: AnswerKind.TRANSIENT,
    504: AnswerKind.TRANSIENT,
}


def classify_status(status: int, error_code: str | None = None) -> AnswerKind:
    """The kind of an answer by its HTTP status alone (a service's table falls back to it; IAM uses it)."""
    if 200 <= status < 300:
        return AnswerKind.OK
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    return AnswerKind.TRANSIENT if status >= 500 else AnswerKind.PERMANENT

MAX_ERROR_TEXT = 300
"""Longest error text kept from an answer: an echoed page or message must not flood the logs."""

# Flat shapes: (code key, message key), in the order the Huawei SDK tries them.
_FLAT_SHAPES = (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message"))


async def answer_from_response(response: aiohttp.ClientResponse, classify: Classify = classify_status) -> Answer:
    """Read an HTTP answer: kind, request id, ``Retry-After``, the server's clock, and the error fields or body."""
    body = await response.read()
    decoded = _decode_json(body)
    request_id = response.headers.get("X-Request-Id") or _body_request_id(decoded)
    retry_after_s = parse_retry_after(response.headers.get("Retry-After"))
    server_time = parse_http_date(response.headers.get("Date"))
    if 200 <= response.status < 300:
        return Answer(
            AnswerKind.OK,
            response.status,
            request_id=request_id,
            retry_after_s=retry_after_s,
            server_time=server_time,
            data=decoded,
        )
    code, message = error_fields(decoded, body)
    return Answer(
        kind=classify(response.status, code),
        status=response.status,
        error_code=code,
        error_msg=message,
        request_id=request_id,
        retry_after_s=retry_after_s,
        server_time=server_time,
    )


def answer_from_error(error: BaseException) -> Answer:
    """A request that got no HTTP answer (connection refused or dropped, timeout): transient."""
    detail = str(error) or ("no answer within the timeout" if isinstance(error, TimeoutError) else "")
    return Answer(AnswerKind.TRANSIENT, error_msg=_cut(f"{type(error).__name__}: {detail}".rstrip(": ")))


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    moment = parse_http_date(value)
    return None if moment is None else max(moment - now(), 0.0)


def parse_http_date(value: str | None) -> float | None:
    """An HTTP date (``Date``, ``Retry-After``) as POSIX seconds; None when absent or unreadable."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def error_fields(decoded: Any, body: bytes) -> tuple[str | None, str | None]:
    """``(error_code, error_msg)`` from any accepted error shape; any other body gives its text as message."""
    if isinstance(decoded, dict):
        fields = _flat_fields(decoded) or _nested_fields(decoded)
        if fields is not None:
            return _text(fields.get("code")), _cut(_text(fields.get("message")))
    text = body.decode("utf-8", errors="replace").strip()
    return None, _cut(text) if text else None


def _flat_fields(decoded: dict[str, Any]) -> dict[str, Any] | None:
    """``{"code", "message"}`` of a flat shape, or None when no flat shape matches."""
    for code_key, message_key in _FLAT_SHAPES:
        if code_key in decoded or message_key in decoded:
            return {"code": decoded.get(code_key), "message": decoded.get(message_key)}
    return None


def _nested_fields(decoded: dict[str, Any]) -> dict[str, Any] | None:
    """``{"error": {...}}`` or OpenStack's ``{"<kind>": {"code", "message"}}``: the inner fields."""
    inner = decoded.get("error")
    if not isinstance(inner, dict):
        # OpenStack names the fault kind as the key of the one object in the body (badRequest,
        # itemNotFound, overLimit...); a request_id may stand beside it.
        objects = [value for value in decoded.values() if isinstance(value, dict)]
        inner = objects[0] if len(objects) == 1 else None
    if inner is None:
        return None
    return _flat_fields(inner)


def _body_request_id(decoded: Any) -> str | None:
    """``request_id`` at the top of a JSON body (some services send it there instead of the header)."""
    if isinstance(decoded, dict):
        return _text(decoded.get("request_id"))
    return None


def _decode_json(body: bytes) -> Any:
    """The decoded JSON body, or None when it is empty or not JSON."""
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    """A field as text (some services send numeric codes)."""
    return None if value is None else str(value)


def _cut(text: str | None) -> str | None:
    """``text`` cut to ``MAX_ERROR_TEXT`` characters."""
    if text is None or len(text) <= MAX_ERROR_TEXT:
        return text
    return text[: MAX_ERROR_TEXT - 1] + "…"

