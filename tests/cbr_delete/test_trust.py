"""Outcomes a pipeline can trust when the endpoint or the cloud misbehaves, for CBR: wrong endpoints and
gateway 404s (never "gone"), the 401 "Malformed request url" (gone only after a credentials check),
deletions left running by an earlier run (adopted), refused credentials (exit 3) and secrets kept out of
logs and report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.cbr_delete.conftest import (
    CBR,
    GatewayProxy,
    by_backup,
    delete_now,
    gateway_404,
    high_water,
    new_id,
    outcomes,
    seed,
    text_plan,
)
from tests.harness import PROJECT, TOKEN, Run, cbr_emulator_on_loopback, cloud_env, emulator_on_loopback
from worker.emulator import AccessKey, IamUser
from worker.emulator.cbr import CbrFaultRule

PASSWORD = "pa55-Word-never-logged"
SK = "sk-never-logged-0123456789abcdef"
SECURITY_TOKEN = "sts-token-never-logged"


def errors_logged(run: Run) -> list[dict[str, Any]]:
    return [e for e in run.events if e.get("level") == "error"]


def policy_file(tmp_path: Path) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text("keep:\n  last: 1\n", encoding="utf-8")
    return str(path)


# -- a wrong endpoint: exit 3 before any DELETE --------------------------------------------------------------


@pytest.mark.parametrize("where", ["path prefix", "gateway", "csbs endpoint"])
def test_wrong_endpoint_aborts_before_any_delete(where: str, worker: Callable[..., Run]) -> None:
    """An endpoint that serves no CBR API (a path the gateway does not know, a gateway answering APIGW.0101
    to everything, a CSBS endpoint): exit 3, no DELETE, every task not_attempted, one error naming it."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 3)
        if where == "path prefix":
            url = served.url + "/cbr"
            run = worker(["delete", *CBR, "-"], cloud_env(url), stdin=text_plan(ids))
        elif where == "gateway":
            with GatewayProxy(served.url, lambda *_: gateway_404()) as proxy:
                url = proxy.url
                run = worker(["delete", *CBR, "-"], cloud_env(url), stdin=text_plan(ids))
        else:
            with emulator_on_loopback() as csbs:
                url = csbs.url
                run = worker(["delete", *CBR, "-"], cloud_env(url), stdin=text_plan(ids))
                csbs_deletes = csbs.emulator.stats.requests_by_route["delete"]
            assert csbs_deletes == 0
        sent = served.emulator.stats.requests_by_route["delete"]
    assert run.code == 3
    assert sent == 0
    assert set(outcomes(run).values()) == {"not_attempted"}
    (error,) = errors_logged(run)
    assert url in error["reason"] and "serves no CBR API" in error["reason"]


def test_plan_on_a_wrong_endpoint_prints_nothing(worker: Callable[..., Run], tmp_path: Path) -> None:
    """`plan --service cbr` against an endpoint with no CBR API: exit 3 and nothing on stdout."""
    with cbr_emulator_on_loopback() as served:
        seed(served, 3)
        run = worker(["plan", *CBR, "--policy", policy_file(tmp_path)], cloud_env(served.url + "/x"), report=None)
    assert run.code == 3
    assert run.stdout == ""
    assert "serves no CBR API" in errors_logged(run)[0]["reason"]


# -- gateway 404s mid-run are never "gone" -------------------------------------------------------------------


def test_gateway_404_on_every_look_is_never_gone(worker: Callable[..., Run]) -> None:
    """After a good preflight every GET of a backup answers the gateway's 404: the backups are in fact
    deleted, yet no task is deleted or already_absent (not seen to end: timed_out)."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 3)
        absent = new_id()

        def answer(method: str, kind: str, n: int) -> web.Response | None:
            return gateway_404() if (method, kind) == ("GET", "backup") else None

        with GatewayProxy(served.url, answer) as proxy:
            run = worker(["delete", *CBR, "-", "--task-timeout", "1", "--request-timeout", "0.5"], cloud_env(proxy.url),
                         stdin=text_plan([*ids, absent]))
    assert run.code == 1
    assert outcomes(run) == {**dict.fromkeys(ids, "timed_out"), absent: "already_absent"}
    assert run.named("task_deleted") == []


def test_gateway_404_on_delete_is_not_already_absent(worker: Callable[..., Run]) -> None:
    """DELETEs answered with the gateway's 404 (and an absent backup among them) are retried: no task is
    already_absent on the gateway's word; once the API is back they end deleted (or truly absent)."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 2)
        absent = new_id()

        def answer(method: str, kind: str, n: int) -> web.Response | None:
            return gateway_404() if method == "DELETE" and n <= 4 else None

        with GatewayProxy(served.url, answer) as proxy:
            run = worker(["delete", *CBR, "-"], cloud_env(proxy.url), stdin=text_plan([*ids, absent]))
            refused = proxy.seen[("DELETE", "backup")]
        left = served.emulator.backup_ids()
    assert run.code == 0
    assert outcomes(run) == {**dict.fromkeys(ids, "deleted"), absent: "already_absent"}
    assert refused >= 7  # 4 gateway 404s, then one DELETE each
    assert left == []


def test_gateway_that_loses_the_api_for_a_while(worker: Callable[..., Run]) -> None:
    """Twelve gateway 404s on the looks, then the service answers again: every task ends deleted."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 4)

        def answer(method: str, kind: str, n: int) -> web.Response | None:
            return gateway_404() if (method, kind) == ("GET", "backup") and n <= 12 else None

        with GatewayProxy(served.url, answer) as proxy:
            run = worker(["delete", *CBR, "-"], cloud_env(proxy.url), stdin=text_plan(ids))
            looks = proxy.seen[("GET", "backup")]
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert looks > 12


# -- the 401 "Malformed request url" ---------------------------------------------------------------------------


def test_malformed_url_401_is_gone_after_the_credentials_check(worker: Callable[..., Run]) -> None:
    """A CBR that answers a missing backup with 401 "Malformed request url": after the same credentials
    worked on GET vaults, it is read as gone (deleted after our DELETE, already_absent before)."""
    with cbr_emulator_on_loopback(gone_answer="401") as served:
        ids = seed(served, 3)
        absent = new_id()
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([*ids, absent]))
        checks = served.emulator.stats.requests_by_route["list_vaults"]
    assert run.code == 0
    assert outcomes(run) == {**dict.fromkeys(ids, "deleted"), absent: "already_absent"}
    assert run.report is not None
    assert run.report["calls"]["check_credentials"] >= 1 + 4  # the preflight, then one per 401
    assert checks == run.report["calls"]["check_credentials"]


def test_malformed_url_401_unconfirmed_is_never_gone(worker: Callable[..., Run]) -> None:
    """When the credentials check after a 401 "Malformed request url" does not succeed (it keeps failing),
    the 401 is not "gone": no task is deleted or already_absent."""
    with cbr_emulator_on_loopback(gone_answer="401", delete_mode="sync") as served:
        ids = seed(served, 2)
        absent = new_id()

        def answer(method: str, kind: str, n: int) -> web.Response | None:
            if kind == "vaults" and n > 1:  # every credentials check after the preflight's
                return web.json_response({"error_code": "APIG.0201", "error_msg": "Backend timeout."}, status=503)
            return None

        with GatewayProxy(served.url, answer) as proxy:
            run = worker(["delete", *CBR, "-", "--task-timeout", "1", "--request-timeout", "0.5"], cloud_env(proxy.url),
                         stdin=text_plan([*ids, absent]))
        left = served.emulator.backup_ids()
    assert left == []  # the deletions did happen
    assert run.code == 1
    assert set(outcomes(run).values()) == {"timed_out"}
    assert run.named("task_deleted") == [] and run.named("task_already_absent") == []
    assert run.named("cbr_malformed_url_unconfirmed")


def test_malformed_url_401_for_a_wrong_project_aborts(worker: Callable[..., Run]) -> None:
    """The same 401 for a project these credentials do not reach: the preflight fails, exit 3, no DELETE."""
    with cbr_emulator_on_loopback(gone_answer="401") as served:
        ids = seed(served, 2)
        env = {**cloud_env(served.url), "CSBS_PROJECT_ID": "ffffffffffffffffffffffffffffffff"}
        run = worker(["delete", *CBR, "-"], env, stdin=text_plan(ids))
        sent = served.emulator.stats.requests_by_route["delete"]
    assert run.code == 3
    assert sent == 0
    assert set(outcomes(run).values()) == {"not_attempted"}


# -- deletions left running are adopted ------------------------------------------------------------------------


def test_running_deletions_are_adopted_and_count_against_the_five(worker: Callable[..., Run]) -> None:
    """Five deletions started before the run (an earlier run that crashed) are adopted: followed to their
    end with no new DELETE, and never more than five outstanding at CBR with the plan's other seven."""
    with cbr_emulator_on_loopback(delete_duration_s=(0.5, 0.8)) as served:
        ids = seed(served, 12, children=1)
        crashed = ids[:5]
        for backup_id in crashed:
            delete_now(served, backup_id)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(list(reversed(ids))))
        sent = dict(served.emulator.stats.deletes_by_target)
        high = high_water(served)
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert high <= 5
    assert all(sent[b] == 1 for b in ids)  # the crashed run's five, and one each for the rest
    assert run.named("deletions_in_progress")[0]["adopted"] == 5
    assert {e["backup_id"] for e in run.named("task_adopted")} == set(crashed)
    assert run.named("task_busy") == []


# -- refused credentials -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "token", "code_seen"),
    [({"forbidden_users": frozenset({"user-1"})}, TOKEN, 403), ({}, "not-a-known-token", 401)],
    ids=["403", "401"],
)
def test_refused_run_aborts_with_exit_3_before_any_delete(scenario: dict[str, Any], token: str, code_seen: int,
                                                           worker: Callable[..., Run]) -> None:
    """Refused credentials or permission abort the run with exit 3 after one read, no DELETE sent."""
    with cbr_emulator_on_loopback(**scenario) as served:
        ids = seed(served, 4)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url, token), stdin=text_plan(ids))
        requests = sum(served.emulator.stats.requests_by_route.values())
        sent = served.emulator.stats.requests_by_route["delete"]
    assert run.code == 3
    assert sent == 0
    assert requests <= 2
    assert str(code_seen) in run.named("run_aborted")[0]["reason"]
    assert token not in run.stderr
    assert run.report is not None and run.report["counts"]["not_attempted"] == 4


def test_permission_withdrawn_mid_run_aborts_quickly(worker: Callable[..., Run]) -> None:
    """A 403 on every call after the first few: exit 3 at once, nothing failed, the rest not attempted."""
    with cbr_emulator_on_loopback(faults=(CbrFaultRule("*", "403", after=8),), delete_duration_s=(0.2, 0.4)) as served:
        ids = seed(served, 30)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        refused = served.emulator.stats.faults_by_kind["403"]
    assert run.code == 3
    assert run.report is not None
    assert run.report["counts"]["failed"] == 0
    assert run.report["counts"]["not_attempted"] >= 20
    assert refused <= 12
    assert run.named("run_aborted")


# -- secrets -------------------------------------------------------------------------------------------------------


def test_token_never_shows_even_when_a_gateway_echoes_it(worker: Callable[..., Run]) -> None:
    """A gateway that echoes the token in its error bodies (500s that are retried, then a 403 that aborts the
    run): the token is in no log line, no report and no output."""
    def echo(method: str, kind: str, n: int) -> web.Response | None:
        if (method, kind) == ("GET", "backup") and n <= 3:
            return web.json_response({"error_code": "BackupService.9910", "error_msg": f"bad token {TOKEN}"},
                                     status=500)
        if method == "DELETE" and n == 3:
            return web.json_response({"error_code": "BackupService.8600",
                                      "error_msg": f"token {TOKEN} may not delete"}, status=403)
        return None

    with cbr_emulator_on_loopback(delete_duration_s=(0.3, 0.4)) as served:
        ids = seed(served, 4)
        with GatewayProxy(served.url, echo) as proxy:
            run = worker(["delete", *CBR, "--concurrency", "2", "-"], cloud_env(proxy.url), stdin=text_plan(ids))
    assert run.code == 3
    assert run.named("request_retry")
    everything = run.stderr + run.stdout + json.dumps(run.report)
    assert TOKEN not in everything
    assert "bad token" in run.stderr  # the echo was logged, redacted


def test_password_token_expiring_mid_run_is_renewed(worker: Callable[..., Run]) -> None:
    """Password sign-in against the CBR emulator's IAM: tokens that expire every 0.4 s are renewed; every
    backup is deleted and the password never shows."""
    users = (IamUser("ops", PASSWORD, "acme"),)
    with cbr_emulator_on_loopback(users=users, token_ttl_s=0.4, delete_duration_s=(0.1, 0.3)) as served:
        ids = seed(served, 10)
        env = {"CSBS_ENDPOINT": served.url, "CSBS_PROJECT_ID": PROJECT, "CSBS_IAM_ENDPOINT": served.url,
               "CSBS_USERNAME": "ops", "CSBS_DOMAIN_NAME": "acme", "CSBS_PASSWORD": PASSWORD}
        run = worker(["delete", *CBR, "--concurrency", "2", "-"], env, stdin=text_plan(ids))
        logins = served.emulator.stats.requests_by_route["auth"]
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert logins >= 2
    assert PASSWORD not in run.stderr + run.stdout + json.dumps(run.report)


def test_aksk_signed_run_with_security_token(worker: Callable[..., Run]) -> None:
    """Temporary AK/SK credentials sign every CBR call; the SK and the security token never show."""
    keys = (AccessKey("AKTEMP000001", SK, "user-1", SECURITY_TOKEN),)
    with cbr_emulator_on_loopback(access_keys=keys) as served:
        ids = seed(served, 3)
        env = {"CSBS_ENDPOINT": served.url, "CSBS_PROJECT_ID": PROJECT, "HUAWEICLOUD_SDK_AK": "AKTEMP000001",
               "HUAWEICLOUD_SDK_SK": SK, "HUAWEICLOUD_SDK_SECURITY_TOKEN": SECURITY_TOKEN}
        run = worker(["delete", *CBR, "-"], env, stdin=text_plan(ids))
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    everything = run.stderr + run.stdout + json.dumps(run.report)
    for secret in (SK, SECURITY_TOKEN):
        assert secret not in everything
    assert by_backup(run)


def test_running_deletions_not_in_the_plan_count_against_the_five(worker: Callable[..., Run]) -> None:
    """Four deletions of other backups already running (not the plan's) take slots first: the plan's own
    DELETEs never put more than five outstanding at CBR."""
    with cbr_emulator_on_loopback(delete_duration_s=(0.5, 0.7)) as served:
        others = seed(served, 4)
        ids = seed(served, 6)
        vault = served.emulator.vault_id()
        for backup_id in others:
            delete_now(served, backup_id)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        high = high_water(served)
        left = served.emulator.backup_ids()
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert high <= 5
    assert left == []
    assert run.named("deletions_in_progress")[0]["foreign"] == 4
    ended = run.named("foreign_deletion_ended")
    assert {e["backup_id"] for e in ended} == set(others)
    assert {e["vault_id"] for e in ended} == {vault}  # the backup's vault, not its restore point


# -- an unreachable cloud, and metrics pushed -------------------------------------------------------------------


def test_unreachable_cloud_ends_within_the_preflight_budget(worker: Callable[..., Run]) -> None:
    """Nothing listens at the endpoint: exit 1 within the preflight's budget, every task not_attempted,
    metrics pushed, one error naming the endpoint."""
    import time

    from tests.delete.test_trust import closed_port, gateway_in_thread

    url = closed_port()
    with gateway_in_thread() as gateway:
        started = time.monotonic()
        run = worker(["delete", *CBR, "-", "--retry-cap", "0.2", "--request-timeout", "0.5", "--pushgateway",
                      gateway.url], cloud_env(url), stdin=text_plan([new_id(), new_id()]))
        took = time.monotonic() - started
    assert run.code == 1
    assert took < 4.0
    assert set(outcomes(run).values()) == {"not_attempted"}
    (error,) = errors_logged(run)
    assert url in error["reason"] and "CBR" in error["reason"]
    (pushed,) = [r for r in gateway.requests if r.method in ("POST", "PUT")]
    assert pushed.samples()[("csbs_worker_run_exit_code", ())] == 1


def test_metrics_of_a_cbr_run_are_pushed(worker: Callable[..., Run]) -> None:
    """A CBR run pushes its tasks per outcome and exit code, as a CSBS run does."""
    from tests.delete.test_trust import gateway_in_thread

    with cbr_emulator_on_loopback() as served, gateway_in_thread() as gateway:
        ids = seed(served, 3)
        (image,) = seed(served, 1, image_backed=True)
        run = worker(["delete", *CBR, "-", "--pushgateway", gateway.url], cloud_env(served.url),
                     stdin=text_plan([*ids, image]))
        (pushed,) = [r for r in gateway.requests if r.method in ("POST", "PUT")]
    assert run.code == 1
    samples = pushed.samples()
    assert samples[("csbs_worker_run_tasks", (("outcome", "deleted"),))] == 3
    assert samples[("csbs_worker_run_tasks", (("outcome", "failed"),))] == 1
    assert samples[("csbs_worker_run_exit_code", ())] == 1
