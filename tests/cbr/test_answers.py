"""The CBR answer table: every code of docs/cbr-api.md, prefixed and bare, then the HTTP status."""

from __future__ import annotations

import pytest

from worker.engine.answer import Answer, AnswerKind
from worker.services.cbr.answers import CODE_KINDS, busy_limit, classify, full_code, is_malformed_url, needs_reauth

K = AnswerKind

# HTTP status, error code, kind (as the docs pair them; the code decides either way)
TABLE = [
    (404, "BackupService.6200", K.GONE), (400, "CSBS.3001", K.GONE), (404, "BackupService.6105", K.GONE),
    (400, "BackupService.6105", K.GONE), (404, "BackupService.6500", K.GONE),
    (404, "APIGW.0101", K.NO_SERVICE), (404, "APIG.0101", K.NO_SERVICE),
    (400, "CSBS.2003", K.BUSY), (400, "BackupService.6216", K.BUSY), (400, "BackupService.6203", K.BUSY),
    (500, "BackupService.0002", K.BUSY), (500, "BackupService.7009", K.BUSY),
    (400, "BackupService.6201", K.BUSY), (400, "BackupService.6112", K.BUSY),
    (400, "BackupService.6204", K.PERMANENT), (400, "BackupService.6710", K.PERMANENT),
    (400, "BackupService.6711", K.PERMANENT), (400, "BackupService.6220", K.PERMANENT),
    (400, "BackupService.9900", K.PERMANENT),
    (401, "APIGW.0301", K.FATAL), (401, "APIG.0301", K.FATAL), (403, "BackupService.8600", K.FATAL),
    (403, None, K.FATAL), (500, "BackupService.9998", K.FATAL),
    (429, "APIG.0308", K.THROTTLED), (429, "APIGW.0308", K.THROTTLED), (429, None, K.THROTTLED),
    (500, "BackupService.9910", K.TRANSIENT), (500, "BackupService.4004", K.TRANSIENT),
    (502, None, K.TRANSIENT), (503, "APIG.0201", K.TRANSIENT), (504, None, K.TRANSIENT),
    (409, None, K.BUSY), (404, None, K.NO_SERVICE), (404, "Something.1", K.NO_SERVICE),
    (400, "Unknown.1", K.PERMANENT), (204, None, K.OK), (200, None, K.OK),
]


@pytest.mark.parametrize(("status", "code", "kind"), TABLE)
def test_each_code_has_its_kind(status: int, code: str | None, kind: AnswerKind) -> None:
    """What the worker does with each documented answer."""
    assert classify(status, code) is kind


@pytest.mark.parametrize("code", sorted(c for c in CODE_KINDS if c.startswith("BackupService.")))
def test_a_bare_number_is_read_as_its_backupservice_code(code: str) -> None:
    """Point 15: HW-DEF writes 6201 for BackupService.6201; whatever the status, the number decides."""
    number = code.removeprefix("BackupService.")
    assert full_code(number) == code
    assert classify(400, number) is classify(400, code)


def test_a_gateway_404_is_never_gone() -> None:
    """APIGW.0101 says the endpoint is wrong, not that the backup is gone."""
    assert classify(404, "APIGW.0101") is not K.GONE
    assert classify(404, "0101") is K.NO_SERVICE


def test_busy_codes_with_a_cap_are_marked() -> None:
    """6201 and 6112 may be busy only a few times; CSBS.2003 may be busy as long as it takes."""
    assert busy_limit(Answer(K.BUSY, 400, "BackupService.6201")) == 3
    assert busy_limit(Answer(K.BUSY, 400, "6112")) == 3
    assert busy_limit(Answer(K.BUSY, 400, "CSBS.2003")) is None


def test_the_malformed_url_401_is_marked_and_not_a_reason_to_sign_in_again() -> None:
    """Point 6: the TF-HW 401 is recognised; an ordinary 401 or 9998 asks for a renewed sign-in."""
    malformed = Answer(K.FATAL, 401, "401", "Malformed request url")
    assert is_malformed_url(malformed) and not needs_reauth(malformed)
    assert needs_reauth(Answer(K.FATAL, 401, "APIGW.0301", "bad token"))
    assert needs_reauth(Answer(K.FATAL, 500, "BackupService.9998", "Authentication failed"))
    assert not is_malformed_url(Answer(K.FATAL, 401, "APIGW.0301", "bad token"))
