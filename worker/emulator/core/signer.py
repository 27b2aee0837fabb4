"""``SDK-HMAC-SHA256`` request signing as the Huawei Cloud SDK does it (docs/csbs-api.md, Authentication).

The emulator verifies signatures by rebuilding the canonical request from what it received; ``sign``
builds the same headers on the client side so tests can sign their requests. Both rest on the same four
steps, pinned by the SDK's known answers in the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_AUTH_PATTERN = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<ak>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<sig>[0-9a-f]+)$"
)


@dataclass(frozen=True)
class SignedAuthorization:
    """The parts of an ``Authorization: SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...``."""

    ak: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> SignedAuthorization | None:
    """Split the header; None if it is not an ``SDK-HMAC-SHA256`` authorization."""
    match = _AUTH_PATTERN.match(value.strip())
    if match is None:
        return None
    return SignedAuthorization(match["ak"], tuple(match["signed"].split(";")), match["sig"])


def canonical_uri(path: str) -> str:
    """Each segment percent-encoded (``~`` kept), always ending in ``/`` (for signing only)."""
    encoded = "/".join(quote(segment, safe="~") for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Pairs sorted, both parts percent-encoded, joined by ``&``."""
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(pairs))


def canonical_request(method: str, path: str, query: Iterable[tuple[str, str]], headers: Mapping[str, str],
                      signed_headers: Sequence[str], body_sha256: str) -> str:
    """The canonical request; ``headers`` must hold a value for every name in ``signed_headers``."""
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in signed_headers)
    return "\n".join([method.upper(), canonical_uri(path), canonical_query(query), canonical_headers,
                      ";".join(signed_headers), body_sha256])


def signature(sk: str, sdk_date: str, canonical: str) -> str:
    """``hex(HMAC-SHA256(SK, StringToSign))`` with StringToSign from the date and the request's hash."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    return hmac.new(sk.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def body_hash(body: bytes) -> str:
    """``hex(sha256(body))``."""
    return hashlib.sha256(body).hexdigest()


def sdk_date(moment: datetime | None = None) -> str:
    """An ``X-Sdk-Date`` value (UTC, ``YYYYMMDDTHHMMSSZ``)."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime(SDK_DATE_FORMAT)


def sign(ak: str, sk: str, method: str, url: str, headers: Mapping[str, str], body: bytes = b"",
         when: datetime | None = None) -> dict[str, str]:
    """Client side: return ``headers`` plus ``X-Sdk-Date`` (unless given) and ``Authorization``.

    ``headers`` must include ``Host`` as it will be sent. Every header is signed except those with ``_``.
    """
    signed_headers = dict(headers)
    if not any(name.lower() == "x-sdk-date" for name in signed_headers):
        signed_headers["X-Sdk-Date"] = sdk_date(when)
    date = next(v for k, v in signed_headers.items() if k.lower() == "x-sdk-date")
    names = sorted(name.lower() for name in signed_headers if "_" not in name)
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    canonical = canonical_request(method, parts.path or "/", query, signed_headers, names, body_hash(body))
    signed_headers["Authorization"] = (
        f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(names)}, Signature={signature(sk, date, canonical)}"
    )
    return signed_headers
