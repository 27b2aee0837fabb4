"""The AK/SK signer reproduces every known answer of docs/csbs-api.md (HW-SDK's own test vectors)."""

from __future__ import annotations

import pytest
import yarl

from worker.cloud.signer import canonical_query, canonical_uri, sdk_date, sign

SDK_HOST = "service.endpoint.myhuaweicloud.com"
SDK_HEADERS = {"Host": SDK_HOST, "X-Sdk-Date": "20200608T023900Z"}
CSBS_HOST = "csbs.ap-southeast-1.myhuaweicloud.com"
CSBS_PROJECT = "0123456789abcdef0123456789abcdef"
CSBS_HEADERS = {
    "Host": CSBS_HOST,
    "X-Sdk-Date": "20250101T000000Z",
    "Content-Type": "application/json",
    "X-Project-Id": CSBS_PROJECT,
}
CSBS_AK = "HPUAEXAMPLEAK0000001"
CSBS_SK = "ExampleSecretKey0000000000000000000000000"

KNOWN_ANSWERS = [
    pytest.param(
        "GET",
        f"https://{SDK_HOST}/resources?size=1",
        SDK_HEADERS,
        b"",
        "AccessKey",
        "SecretKey",
        "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, "
        "Signature=cfb4171acec81de07d50e53d57eb77edd537414d66ddb1d7d780f128e12cd842",
        id="sdk-get",
    ),
    pytest.param(
        "POST",
        f"https://{SDK_HOST}/resources?size=1",
        SDK_HEADERS,
        b'{"name":"test","id":1}',
        "AccessKey",
        "SecretKey",
        "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, "
        "Signature=436b1ac0a1ae03705934bb70ef2f2e09f7bfed2117d731a38235053199323a1f",
        id="sdk-post",
    ),
    pytest.param(
        "DELETE",
        f"https://{CSBS_HOST}/v1/{CSBS_PROJECT}/checkpoint_items/3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f",
        CSBS_HEADERS,
        b"",
        CSBS_AK,
        CSBS_SK,
        f"SDK-HMAC-SHA256 Access={CSBS_AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=f90f408ee18e0dca2e3fc9117386372fbfdcf28efa17ccd90ecdefb2f79581f7",
        id="csbs-delete",
    ),
    pytest.param(
        "GET",
        f"https://{CSBS_HOST}/v1/{CSBS_PROJECT}/checkpoint_items?status=available&limit=10",
        CSBS_HEADERS,
        b"",
        CSBS_AK,
        CSBS_SK,
        f"SDK-HMAC-SHA256 Access={CSBS_AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=2ca19a8dcc85f9014976f937c15ae276481cd7c5c201b1e2d147522f97ebe208",
        id="csbs-list",
    ),
]


@pytest.mark.parametrize(("method", "url", "headers", "body", "ak", "sk", "expected"), KNOWN_ANSWERS)
def test_known_answers(method, url, headers, body, ak, sk, expected):
    """The Authorization value equals the known answer, byte for byte."""
    assert sign(method, url, headers, body, ak, sk) == expected


def test_header_order_and_case_do_not_matter():
    """Headers given in another order and case sign the same."""
    shuffled = {"x-sdk-date": "20200608T023900Z", "HOST": SDK_HOST}
    url = f"https://{SDK_HOST}/resources?size=1"
    assert sign("GET", url, shuffled, b"", "AccessKey", "SecretKey") == sign(
        "GET", url, SDK_HEADERS, b"", "AccessKey", "SecretKey"
    )


def test_underscore_headers_are_not_signed():
    """A header with `_` in its name stays out of SignedHeaders and the signature (as in the SDK)."""
    url = f"https://{SDK_HOST}/resources?size=1"
    with_underscore = {**SDK_HEADERS, "TEST_UNDERSCORE": "TEST_VALUE"}
    assert sign("GET", url, with_underscore, b"", "AccessKey", "SecretKey") == sign(
        "GET", url, SDK_HEADERS, b"", "AccessKey", "SecretKey"
    )


def test_canonical_uri_encodes_segments_and_ends_with_slash():
    """Each segment is percent-encoded (`~` kept) and a trailing slash is added for signing."""
    assert canonical_uri(yarl.URL("https://h/a b/c~d")) == "/a%20b/c~d/"
    assert canonical_uri(yarl.URL("https://h/v1/p/")) == "/v1/p/"


def test_canonical_query_sorts_and_encodes():
    """Query pairs are sorted and both parts percent-encoded."""
    url = yarl.URL("https://h/x").with_query({"status": "available", "limit": "10", "name": "a b/c"})
    assert canonical_query(url) == "limit=10&name=a%20b%2Fc&status=available"


def test_sign_without_date_header_is_refused():
    """A request without X-Sdk-Date cannot be signed."""
    with pytest.raises(ValueError, match="X-Sdk-Date"):
        sign("GET", "https://h/x", {"Host": "h"}, b"", "ak", "sk")


def test_sdk_date_is_utc_basic_format():
    """X-Sdk-Date is UTC in YYYYMMDDTHHMMSSZ."""
    assert sdk_date(1591583940.0) == "20200608T023900Z"
