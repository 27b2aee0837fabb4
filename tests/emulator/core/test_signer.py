"""The SDK-HMAC-SHA256 verifier against the Huawei SDK's known answers (docs/csbs-api.md, Authentication)."""

from __future__ import annotations

import pytest

from worker.emulator.core.signer import (
    body_hash,
    canonical_query,
    canonical_request,
    canonical_uri,
    parse_authorization,
    sign,
    signature,
)

SDK_HOST = "service.endpoint.myhuaweicloud.com"
SDK_DATE = "20200608T023900Z"
CSBS_HOST = "csbs.ap-southeast-1.myhuaweicloud.com"
CSBS_DATE = "20250101T000000Z"
CSBS_PROJECT = "0123456789abcdef0123456789abcdef"
CSBS_HEADERS = {"Host": CSBS_HOST, "Content-Type": "application/json", "X-Project-Id": CSBS_PROJECT,
                "X-Sdk-Date": CSBS_DATE}
CSBS_SK = "ExampleSecretKey0000000000000000000000000"

KNOWN_ANSWERS = [
    # method, path, query, headers, body, sk, signed headers, signature
    ("GET", "/resources", [("size", "1")], {"Host": SDK_HOST, "X-Sdk-Date": SDK_DATE}, b"", "SecretKey",
     "host;x-sdk-date", "cfb4171acec81de07d50e53d57eb77edd537414d66ddb1d7d780f128e12cd842"),
    ("POST", "/resources", [("size", "1")], {"Host": SDK_HOST, "X-Sdk-Date": SDK_DATE},
     b'{"name":"test","id":1}', "SecretKey",
     "host;x-sdk-date", "436b1ac0a1ae03705934bb70ef2f2e09f7bfed2117d731a38235053199323a1f"),
    ("DELETE", f"/v1/{CSBS_PROJECT}/checkpoint_items/3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f", [], CSBS_HEADERS,
     b"", CSBS_SK, "content-type;host;x-project-id;x-sdk-date",
     "f90f408ee18e0dca2e3fc9117386372fbfdcf28efa17ccd90ecdefb2f79581f7"),
    ("GET", f"/v1/{CSBS_PROJECT}/checkpoint_items", [("status", "available"), ("limit", "10")], CSBS_HEADERS,
     b"", CSBS_SK, "content-type;host;x-project-id;x-sdk-date",
     "2ca19a8dcc85f9014976f937c15ae276481cd7c5c201b1e2d147522f97ebe208"),
]


@pytest.mark.parametrize(("method", "path", "query", "headers", "body", "sk", "signed", "expected"), KNOWN_ANSWERS)
def test_verifier_reproduces_known_signatures(method, path, query, headers, body, sk, signed, expected):
    """The canonical request and signature the verifier rebuilds match the SDK's known answers."""
    names = signed.split(";")
    canonical = canonical_request(method, path, query, headers, names, body_hash(body))
    assert signature(sk, headers["X-Sdk-Date"], canonical) == expected


@pytest.mark.parametrize(("method", "path", "query", "headers", "body", "sk", "signed", "expected"), KNOWN_ANSWERS)
def test_sign_builds_the_known_authorization_header(method, path, query, headers, body, sk, signed, expected):
    """The client-side helper produces the exact Authorization header of the known answers."""
    ak = "AccessKey" if sk == "SecretKey" else "HPUAEXAMPLEAK0000001"
    url = f"https://{headers['Host']}{path}" + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    result = sign(ak, sk, method, url, headers, body)
    assert result["Authorization"] == f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={signed}, Signature={expected}"


def test_canonical_uri_encodes_segments_and_ends_with_slash():
    """Each path segment is percent-encoded (keeping ~) and a trailing slash is added for signing."""
    assert canonical_uri("/v1/p/a b~c") == "/v1/p/a%20b~c/"
    assert canonical_uri("/v1/p/") == "/v1/p/"


def test_canonical_query_sorts_and_encodes_pairs():
    """Query pairs are sorted by key then value and both parts percent-encoded."""
    assert canonical_query([("b", "2"), ("a", "x y"), ("a", "1")]) == "a=1&a=x%20y&b=2"


def test_parse_authorization_reads_the_three_parts():
    """Access, SignedHeaders and Signature are read from the header; other schemes give None."""
    parsed = parse_authorization("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=ab12")
    assert parsed is not None
    assert (parsed.ak, parsed.signed_headers, parsed.signature) == ("AK", ("host", "x-sdk-date"), "ab12")
    assert parse_authorization("Bearer abc") is None
