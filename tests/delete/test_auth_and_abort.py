"""Sign-in during a run, refused credentials (exit 3, quickly), and secrets kept out of logs and report."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.delete.test_outcomes import seed_items, text_plan
from tests.harness import PROJECT, TOKEN, Run, cloud_env, emulator_on_loopback
from worker.emulator import AccessKey, FaultRule, IamUser

PASSWORD = "pa55-Word-never-logged"
SK = "sk-never-logged-0123456789abcdef"
SECURITY_TOKEN = "sts-token-never-logged"


def password_env(url: str) -> dict[str, str]:
    return {"CSBS_ENDPOINT": url, "CSBS_PROJECT_ID": PROJECT, "CSBS_IAM_ENDPOINT": url,
            "CSBS_USERNAME": "ops", "CSBS_DOMAIN_NAME": "acme", "CSBS_PASSWORD": PASSWORD}


def test_password_token_expiring_mid_run_is_renewed(worker: Callable[..., Run]) -> None:
    """With tokens that expire every 0.4 s, a run of several seconds signs in again and deletes everything."""
    users = (IamUser("ops", PASSWORD, "acme"),)
    with emulator_on_loopback(users=users, token_ttl_s=0.4, delete_duration_s=(0.1, 0.3)) as served:
        pairs = seed_items(served, 15)
        run = worker(["delete", "--concurrency", "2", "-"], password_env(served.url), stdin=text_plan(pairs))
        logins = served.emulator.stats.requests_by_route["auth"]
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    assert logins >= 2
    assert PASSWORD not in run.stderr
    assert PASSWORD not in json.dumps(run.report)


def test_aksk_signed_run_with_security_token(worker: Callable[..., Run]) -> None:
    """Temporary AK/SK credentials sign every call; the SK and the security token never show."""
    keys = (AccessKey("AKTEMP000001", SK, "user-1", SECURITY_TOKEN),)
    env = {"CSBS_ENDPOINT": "", "CSBS_PROJECT_ID": PROJECT, "HUAWEICLOUD_SDK_AK": "AKTEMP000001",
           "HUAWEICLOUD_SDK_SK": SK, "HUAWEICLOUD_SDK_SECURITY_TOKEN": SECURITY_TOKEN}
    with emulator_on_loopback(access_keys=keys) as served:
        pairs = seed_items(served, 4)
        run = worker(["delete", "-"], {**env, "CSBS_ENDPOINT": served.url}, stdin=text_plan(pairs))
    assert run.code == 0
    everything = run.stderr + run.stdout + json.dumps(run.report)
    for secret in (SK, SECURITY_TOKEN):
        assert secret not in everything


@pytest.mark.parametrize(
    ("scenario", "token", "code_seen"),
    [
        ({"forbidden_tokens": frozenset({TOKEN})}, TOKEN, 403),
        ({"disabled_projects": frozenset({PROJECT})}, TOKEN, 400),
        ({}, "not-a-known-token", 401),
    ],
    ids=["403", "BackupService.4008", "401"],
)
def test_refused_run_aborts_with_exit_3_before_any_delete(scenario: dict[str, Any], token: str,
                                                           code_seen: int, worker: Callable[..., Run]) -> None:
    """Refused credentials, permission or project abort the run with exit 3 after one read, no DELETE sent."""
    with emulator_on_loopback(**scenario) as served:
        pairs = seed_items(served, 5)
        run = worker(["delete", "-"], cloud_env(served.url, token), stdin=text_plan(pairs))
        requests = sum(served.emulator.stats.requests_by_route.values())
        sent = sum(served.emulator.stats.deletes_by_target.values())
    assert run.code == 3
    assert sent == 0
    assert requests <= 2
    abort = run.named("run_aborted")[0]
    assert str(code_seen) in abort["reason"]
    assert token not in run.stderr
    assert run.report is not None  # the report still says what is left
    assert run.report["exit_code"] == 3 and run.report["counts"]["not_attempted"] == 5


@pytest.mark.parametrize("kind", ["401", "403"])
def test_credentials_refused_mid_run_abort_quickly(kind: str, worker: Callable[..., Run]) -> None:
    """Credentials revoked (401, after one renewed login) or permission withdrawn (403) in the middle of a run
    abort it with exit 3 at once: in-flight tasks are reported unfinished, the rest not attempted, and the cloud
    gets only a handful of further requests."""
    users = (IamUser("ops", PASSWORD, "acme"),)
    # The preflight and the first ten CSBS calls pass; every later call is refused.
    refuse = FaultRule("*", kind, after=11)
    with emulator_on_loopback(users=users, faults=(refuse,), delete_duration_s=(0.2, 0.4)) as served:
        pairs = seed_items(served, 40)
        run = worker(["delete", "-"], password_env(served.url), stdin=text_plan(pairs))
        refused = served.emulator.stats.faults_by_kind[kind]
    assert run.code == 3
    assert run.report is not None
    counts = run.report["counts"]
    assert counts["failed"] == 0
    assert counts["not_attempted"] >= 25
    assert refused <= 8  # a few tasks in flight each see one refusal (and one renewed login), then all stop
    assert run.named("run_aborted")
    assert {r["error_code"] for r in run.report["results"] if r["outcome"] == "timed_out"} <= {"run_aborted"}
