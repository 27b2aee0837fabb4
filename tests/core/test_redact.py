"""Secret values are masked in every string the worker logs or reports, whatever the key or the origin."""

from __future__ import annotations

import json
from typing import Any

import structlog

from tests.harness import run_worker
from worker.logs import configure_logging
from worker.redact import MASK, Redactor
from worker.settings import Secret

SK = "Zq8vN3kLmP0sT6wY2bR4cX9aF1dH5jG7eU0iO3nM"
TOKEN = "MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQExDTALBglghkgBZQMEAgEwggKSBgkqhkiG9w0BBwGgggKDBIICf3sidG9rZW4i"


def logged(redactor: Redactor, log_format: str, **fields: Any) -> str:
    lines: list[str] = []
    configure_logging(log_format, "info", write=lines.append, redactor=redactor)
    structlog.get_logger().warning("request_retry", **fields)
    return "\n".join(lines)


def test_a_secret_echoed_by_a_gateway_is_masked_in_any_key() -> None:
    """A token echoed in an error body is masked in error_msg, a run_aborted reason and nested values."""
    redactor = Redactor([SK])
    redactor.add(Secret(TOKEN))  # an IAM token issued during the run
    for log_format in ("json", "console"):
        text = logged(redactor, log_format, error_msg=f"bad header X-Auth-Token: {TOKEN}",
                      reason=f"refused: {SK}", detail={"headers": [f"X-Security-Token={SK}"]})
        assert TOKEN not in text and SK not in text
        assert f"X-Auth-Token: {MASK}" in text


def test_json_lines_stay_json_with_redaction() -> None:
    """The masked line is still one JSON object with the usual leading keys."""
    event = json.loads(logged(Redactor([SK]), "json", error_msg=SK, attempt=2))
    assert list(event)[:3] == ["timestamp", "level", "event"]
    assert event["error_msg"] == MASK and event["attempt"] == 2


def test_report_strings_use_the_same_function() -> None:
    """``text`` masks report strings; a secret containing another is masked whole."""
    redactor = Redactor(["abcdef123456", "abcdef123456-longer-part"])
    assert redactor.text("x abcdef123456-longer-part y abcdef123456") == f"x {MASK} y {MASK}"
    assert redactor.text("nothing secret") == "nothing secret"


def test_empty_and_short_values_are_not_secrets() -> None:
    """Unset variables and values too short to be a credential do not mask ordinary text."""
    redactor = Redactor(["", "ab"])
    redactor.add(None)
    assert redactor.text("ab 12") == "ab 12"


def test_the_run_masks_secrets_of_its_environment(monkeypatch: Any, capsys: Any) -> None:
    """A secret from the environment that lands in an error message never reaches the log."""
    secret = "tok-" + "s3cr3t" * 4
    run = run_worker(["plan", "--policy", "missing.yaml", "--project-id", secret],
                     {"CSBS_AUTH_TOKEN": secret, "CSBS_ENDPOINT": f"https://example.invalid/{secret}"},
                     monkeypatch, capsys, fast=False)
    assert run.code == 2
    assert secret not in run.stderr
    assert run.named("bad_input")
