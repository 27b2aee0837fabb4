"""The SDK-HMAC-SHA256 request signature of Huawei Cloud (AK/SK), as pure functions.

It follows ``huaweicloudsdkcore/signer/signer.py`` of the official Python SDK and reproduces its known
answers (see ``docs/csbs-api.md``):

1. CanonicalRequest = ``METHOD\\nCanonicalURI\\nCanonicalQuery\\nCanonicalHeaders\\nSignedHeaders\\nhex(sha256(body))``
2. StringToSign = ``SDK-HMAC-SHA256\\n{X-Sdk-Date}\\nhex(sha256(CanonicalRequest))``
3. Signature = ``hex(HMAC-SHA256(SK, StringToSign))``
4. ``Authorization: SDK-HMAC-SHA256 Access={AK}, SignedHeaders={names}, Signature={hex}``

Every header handed to ``sign`` is signed, except those with ``_`` in the name (the SDK skips them, since
gateways may drop such headers). The caller adds ``Host`` and ``X-Sdk-Date`` itself and must send exactly
the headers it signed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote, unquote

import yarl

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_HEADER = "X-Sdk-Date"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def sdk_date(epoch_s: float) -> str:
    """Format a Unix time as the ``X-Sdk-Date`` value (UTC, ``YYYYMMDDTHHMMSSZ``)."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime(SDK_DATE_FORMAT)


def _encode(text: str) -> str:
    """Percent-encode everything but unreserved characters (``~`` is kept, as in the SDK)."""
    return quote(text, safe="~")


def canonical_uri(url: yarl.URL) -> str:
    """Each path segment percent-encoded, always with a trailing ``/`` (for signing only)."""
    segments = unquote(url.raw_path).split("/")
    path = "/".join(_encode(segment) for segment in segments)
    return path if path.endswith("/") else path + "/"


def canonical_query(url: yarl.URL) -> str:
    """The query pairs, sorted, each part percent-encoded, joined by ``&``."""
    pairs = sorted((_encode(key), _encode(value)) for key, value in url.query.items())
    return "&".join(f"{key}={value}" for key, value in pairs)


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """The lowercased, sorted names of the headers that take part in the signature."""
    return sorted(name.lower() for name in headers if "_" not in name)


def canonical_request(method: str, url: yarl.URL, headers: Mapping[str, str], body: bytes) -> str:
    """Step 1: the canonical form of the request."""
    values = {name.lower(): value.strip() for name, value in headers.items()}
    names = signed_header_names(headers)
    canonical_headers = "".join(f"{name}:{values[name]}\n" for name in names)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(url),
            canonical_query(url),
            canonical_headers,
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def string_to_sign(canonical: str, date: str) -> str:
    """Step 2: what the secret key signs."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{date}\n{digest}"


def _header(headers: Mapping[str, str], name: str) -> str:
    """The value of a header, whatever the case of its name."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    raise ValueError(f"the request to sign has no {name} header")


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes, ak: str, sk: str) -> str:
    """The ``Authorization`` value for a request; ``headers`` must hold ``Host`` and ``X-Sdk-Date``.

    Args:
        method: the HTTP method.
        url: the full request URL (path and query are signed).
        headers: the headers to sign, exactly as they will be sent.
        body: the request body (``b""`` for none).
        ak: the access key id, sent in the clear.
        sk: the secret key; only its HMAC leaves this function.
    """
    parsed = yarl.URL(url)
    canonical = canonical_request(method, parsed, headers, body)
    to_sign = string_to_sign(canonical, _header(headers, SDK_DATE_HEADER))
    signature = hmac.new(sk.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    names = ";".join(signed_header_names(headers))
    return f"{ALGORITHM} Access={ak}, SignedHeaders={names}, Signature={signature}"
