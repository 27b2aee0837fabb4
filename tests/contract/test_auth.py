"""Sign-in during a run, refused credentials (exit 3, quickly), and secrets kept out of logs and report, for
each service."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.contract.conftest import per_service
from tests.harness import PROJECT, TOKEN, Run, cloud_env
from tests.services import Service
from worker.emulator import AccessKey, IamUser

PASSWORD = "pa55-Word-never-logged"
SK = "sk-never-logged-0123456789abcdef"
SECURITY_TOKEN = "sts-token-never-logged"


def password_env(url: str) -> dict[str, str]:
    return {"CSBS_ENDPOINT": url, "CSBS_PROJECT_ID": PROJECT, "CSBS_IAM_ENDPOINT": url,
            "CSBS_USERNAME": "ops", "CSBS_DOMAIN_NAME": "acme", "CSBS_PASSWORD": PASSWORD}


def test_password_token_expiring_mid_run_is_renewed(service: Service, worker: Callable[..., Run]) -> None:
    """Password sign-in against the emulator's IAM: tokens that expire every 0.4 s are renewed during a run
    of several of them; every backup is deleted and the password never shows."""
    users = (IamUser("ops", PASSWORD, "acme"),)
    with service.serve(users=users, token_ttl_s=0.4, delete_duration_s=(0.1, 0.3)) as cloud:
        backups = cloud.seed(10)
        run = worker(["delete", *service.flags, "--concurrency", "2", "-"], password_env(cloud.url),
                     stdin=service.text_plan(backups))
        logins = cloud.requests("auth")
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    assert logins >= 2
    assert PASSWORD not in run.stderr + run.stdout
    assert PASSWORD not in json.dumps(run.report)


def test_aksk_signed_run_with_security_token(service: Service, worker: Callable[..., Run]) -> None:
    """Temporary AK/SK credentials sign every call; the SK and the security token never show."""
    keys = (AccessKey("AKTEMP000001", SK, "user-1", SECURITY_TOKEN),)
    with service.serve(access_keys=keys) as cloud:
        backups = cloud.seed(4)
        env = {"CSBS_ENDPOINT": cloud.url, "CSBS_PROJECT_ID": PROJECT, "HUAWEICLOUD_SDK_AK": "AKTEMP000001",
               "HUAWEICLOUD_SDK_SK": SK, "HUAWEICLOUD_SDK_SECURITY_TOKEN": SECURITY_TOKEN}
        run = worker(["delete", *service.flags, "-"], env, stdin=service.text_plan(backups))
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    everything = run.stderr + run.stdout + json.dumps(run.report)
    for secret in (SK, SECURITY_TOKEN):
        assert secret not in everything


REFUSALS = {
    # (what, scenario, token, the status the abort names)
    "csbs": [
        ("403", {"forbidden_tokens": frozenset({TOKEN})}, TOKEN, 403),
        ("BackupService.4008", {"disabled_projects": frozenset({PROJECT})}, TOKEN, 400),
        ("401", {}, "not-a-known-token", 401),
    ],
    "cbr": [
        ("403", {"forbidden_users": frozenset({"user-1"})}, TOKEN, 403),
        ("401", {}, "not-a-known-token", 401),
    ],
}


@per_service(("what", "scenario", "token", "code_seen"), REFUSALS)
def test_refused_run_aborts_with_exit_3_before_any_delete(service: Service, what: str, scenario: dict[str, Any],
                                                           token: str, code_seen: int,
                                                           worker: Callable[..., Run]) -> None:
    """Refused credentials, permission or project abort the run with exit 3 after one read, no DELETE sent."""
    with service.serve(**scenario) as cloud:
        backups = cloud.seed(5)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url, token), stdin=service.text_plan(backups))
        requests = cloud.requests()
        sent = cloud.requests("delete")
    assert run.code == 3, what
    assert sent == 0
    assert requests <= 2
    abort = run.named("run_aborted")[0]
    assert str(code_seen) in abort["reason"]
    assert token not in run.stderr
    assert run.report is not None  # the report still says what is left
    assert run.report["exit_code"] == 3 and run.report["counts"]["not_attempted"] == 5


@pytest.mark.parametrize("kind", ["401", "403"])
def test_credentials_refused_mid_run_abort_quickly(service: Service, kind: str, worker: Callable[..., Run]) -> None:
    """Credentials revoked (401, after one renewed login) or permission withdrawn (403) in the middle of a run
    abort it with exit 3 at once: in-flight tasks are reported unfinished with the refusal's error code (a task
    whose DELETE the refusal answered failed with it), the rest not attempted, and the cloud gets only a handful
    of further requests."""
    users = (IamUser("ops", PASSWORD, "acme"),)
    # The sign-in, the preflight and the first calls pass (eleven in all); every later call is refused.
    refuse = service.fault("*", kind, after=11)
    with service.serve(users=users, faults=(refuse,), delete_duration_s=(0.2, 0.4)) as cloud:
        backups = cloud.seed(40)
        run = worker(["delete", *service.flags, "-"], password_env(cloud.url), stdin=service.text_plan(backups))
        refused = cloud.fired(kind)
    assert run.code == 3
    assert run.report is not None
    counts = run.report["counts"]
    assert counts["failed"] <= 1  # the task whose DELETE was refused, if the refusal met a DELETE
    assert counts["not_attempted"] >= 25
    assert refused <= 8  # a few tasks in flight each see one refusal (and one renewed login), then all stop
    cut_off = {r["error_code"] for r in run.report["results"] if r["outcome"] in ("timed_out", "failed")}
    assert len(cut_off) == 1 and cut_off.pop() in run.named("run_aborted")[0]["reason"]  # the refusal's code
