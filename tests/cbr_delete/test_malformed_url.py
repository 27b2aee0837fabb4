"""CBR's 401 "Malformed request url" for a backup that does not exist (docs/cbr-api.md, point 6): gone only
after a credentials check confirms these credentials work; never gone unconfirmed; a wrong project aborts."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from tests.cbr_delete.conftest import CBR, new_id, outcomes, seed, text_plan
from tests.harness import GatewayProxy, Run, cbr_emulator_on_loopback, cloud_env


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
            run = worker(["delete", *CBR, "-", "--task-timeout", "0.5", "--request-timeout", "0.5"],
                         cloud_env(proxy.url), stdin=text_plan([*ids, absent]))
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
