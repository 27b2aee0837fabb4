"""AK/SK signs CBR calls exactly as CSBS calls: the known answers of docs/cbr-api.md, through the CSBS signer."""

from __future__ import annotations

import pytest

from worker.cloud.signer import sign

HOST = "cbr.ap-southeast-1.myhuaweicloud.com"
PROJECT = "0123456789abcdef0123456789abcdef"
HEADERS = {"Host": HOST, "X-Sdk-Date": "20250101T000000Z", "Content-Type": "application/json",
           "X-Project-Id": PROJECT}
AK = "HPUAEXAMPLEAK0000001"
SK = "ExampleSecretKey0000000000000000000000000"
BACKUP = f"https://{HOST}/v3/{PROJECT}/backups/6df2b54c-dd62-4059-a07c-1b8f24f2725d"


@pytest.mark.parametrize(("method", "url", "signature"), [
    ("DELETE", BACKUP, "ce0a3882451672443c2be16aa6d2c94918853360b387a9cca8333ff29959a948"),
    ("GET", BACKUP, "33509138c228e79279eb9eb4f58fa795f53f9f08b527132fff9196c7f63522dc"),
    ("GET", f"https://{HOST}/v3/{PROJECT}/operation-logs?operation_type=delete&limit=10",
     "aad78bd5cb9368f8d09aeb7984fe01a2f28c9a46d2b362a57e1884ab2f3b7ccc"),
])
def test_the_cbr_known_answers_are_reproduced(method: str, url: str, signature: str) -> None:
    """The Authorization header a CBR call carries is the one Huawei's SDK computes."""
    expected = (f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
                f"Signature={signature}")
    assert sign(method, url, HEADERS, b"", AK, SK) == expected
