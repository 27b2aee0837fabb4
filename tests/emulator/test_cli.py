"""The emulator command: options, the scenario they build, and a real ``python -m worker.emulator`` run."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from worker.emulator import FaultRule, Scenario, ScenarioError, add_arguments
from worker.emulator.cbr import CbrFaultRule, CbrScenario
from worker.emulator.cbr.face import VAULTS as CBR_VAULTS
from worker.emulator.cli import DEMO_KEY, DEMO_TOKEN, DEMO_USER, banner, build_scenario, records_to_seed
from worker.emulator.registry import DEFAULT, FACES

CBR_EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "scenario.cbr.example.yaml"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_serve_a_demo_of_each_sign_in_way():
    """Without options the scenario has a demo token, IAM user and AK/SK, and the documented defaults."""
    args = parse()
    s = build_scenario(args)
    assert (args.host, args.port) == ("127.0.0.1", 8080)
    assert s.tokens == {DEMO_TOKEN: "token-user"}
    assert s.users == (DEMO_USER,) and s.access_keys == (DEMO_KEY,)
    assert s.delete_duration_s == (1.0, 5.0)


def test_seed_is_the_record_count_unless_count_is_given():
    """--seed 10 serves 10 records; --count overrides the number."""
    assert records_to_seed(parse("--seed", "10")) == 10
    assert records_to_seed(parse("--seed", "10", "--count", "3")) == 3


def test_flags_build_the_scenario():
    """Project, credentials, durations, switches and faults come from the flags."""
    s = build_scenario(parse(
        "--project", "P", "--token", "T", "--user", "u", "--password", "pw", "--domain", "d",
        "--ak", "AK", "--sk", "SK", "--delete-duration", "0.1", "0.2", "--gone-mode", "deleted",
        "--busy-mode", "409", "--status-lag", "1.5", "--fail-rate", "0.1", "--stuck-rate", "0.01",
        "--tasks-per-user", "3", "--token-ttl", "60", "--fault", "delete:429-retry-after:retry_after_s=2,times=3",
    ))
    assert s.project_id == "P" and s.tokens == {"T": "token-user"}
    assert (s.users[0].name, s.access_keys[0].ak) == ("u", "AK")
    assert (s.delete_duration_s, s.gone_mode, s.busy_mode, s.status_lag_s) == ((0.1, 0.2), "deleted", "409", 1.5)
    assert (s.fail_rate, s.stuck_rate, s.tasks_per_user, s.token_ttl_s) == (0.1, 0.01, 3, 60)
    assert s.faults == (FaultRule("delete", "429-retry-after", times=3, retry_after_s=2.0),)


def test_flags_override_the_scenario_file(tmp_path):
    """A --scenario file sets values; flags given beside it win; the file's project is used."""
    path = tmp_path / "s.yaml"
    path.write_text("project_id: FILEPROJECT\nstatus_lag_s: 2\ngone_mode: deleted\n"
                    "faults: [{route: list, kind: 503}]\n", encoding="utf-8")
    s = build_scenario(parse("--scenario", str(path), "--status-lag", "0", "--fault", "count:drop"))
    assert (s.project_id, s.status_lag_s, s.gone_mode) == ("FILEPROJECT", 0.0, "deleted")
    assert [f.route for f in s.faults] == ["list", "count"]


@pytest.mark.parametrize("service", ["csbs", "cbr"])
def test_no_progress_and_busy_first_deletes_flags_for_both_services(service, tmp_path):
    """--no-progress and --busy-first-deletes N set both faces' switches, over the file's values; without
    them the scenario's (default: progress reported, no busy DELETEs) stand."""
    plain = build_scenario(parse("--service", service))
    assert (plain.progress_reported, plain.busy_first_deletes) == (True, 0)
    s = build_scenario(parse("--service", service, "--no-progress", "--busy-first-deletes", "2"))
    assert (s.progress_reported, s.busy_first_deletes) == (False, 2)
    path = tmp_path / "s.yaml"
    path.write_text("project_id: P\nprogress_reported: false\nbusy_first_deletes: 3\n", encoding="utf-8")
    s = build_scenario(parse("--service", service, "--scenario", str(path), "--busy-first-deletes", "0"))
    assert (s.progress_reported, s.busy_first_deletes) == (False, 0)
    with pytest.raises(ScenarioError, match="busy_first_deletes"):
        build_scenario(parse("--service", service, "--busy-first-deletes", "-1"))


@pytest.mark.parametrize("argv", [("--fault", "delete:teapot"), ("--fault", "list:500:often=1"),
                                  ("--user", "u"), ("--ak", "AK")])
def test_bad_options_are_scenario_errors(argv):
    """An unknown fault kind or option, or half a credential, is refused with a ScenarioError."""
    with pytest.raises(ScenarioError):
        build_scenario(parse(*argv))


def test_banner_names_url_and_each_way_to_sign_in():
    """The start message gives the base URL and the token, IAM user and AK/SK to use."""
    s = build_scenario(parse("--project", "P"))
    emulator, holds = FACES["csbs"].start(s, 0, 1)
    backups = len(emulator.items())  # type: ignore[attr-defined]
    text = banner(FACES["csbs"], s, "http://127.0.0.1:9999", holds)
    assert text.splitlines()[0] == "CSBS emulator listening on http://127.0.0.1:9999"
    for needle in ("CSBS_AUTH_TOKEN=emulator-token", "CSBS_USERNAME=csbs-demo", "HUAWEICLOUD_SDK_AK=",
                   "CSBS_PROJECT_ID=P", f"{backups} backups in 1 records"):
        assert needle in text


async def test_python_m_worker_emulator_serves_until_sigterm():
    """``python -m worker.emulator --port 0`` prints its URL, serves seeded backups, and stops on SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker.emulator", "--port", "0", "--project", "P", "--seed", "4", "--token", "T",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode()
        base = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert base is not None, first
        url = f"{base.group(0)}/v1/P/checkpoint_items/count"
        async with aiohttp.ClientSession(headers={"X-Auth-Token": "T"}) as session, session.get(url) as response:
            count = (await response.json())["count"]
        assert count >= 4  # four records of 1-3 backups
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 0
    assert b"stopped" in out


# -- --service cbr -----------------------------------------------------------------------------------------


def test_service_defaults_to_csbs():
    """Without --service the CSBS emulator is served, as before; --service offers every registered face."""
    assert parse().service == DEFAULT == "csbs"
    assert isinstance(build_scenario(parse()), Scenario)
    assert set(FACES) == {"csbs", "cbr"}
    with pytest.raises(SystemExit):
        parse("--service", "karbor")


def test_service_cbr_builds_a_cbr_scenario_from_the_flags():
    """--service cbr: the flags that mean something for CBR set the CbrScenario; faults name CBR routes."""
    s = build_scenario(parse(
        "--service", "cbr", "--project", "P", "--token", "T", "--delete-duration", "0.1", "0.2",
        "--tasks-per-user", "3", "--status-lag", "1.5", "--fail-rate", "0.1", "--token-ttl", "60",
        "--fault", "get_backup:500:rate=0.1", "--fault", "delete:429-retry-after:retry_after_s=2,times=3",
    ))
    assert isinstance(s, CbrScenario)
    assert s.project_id == "P" and s.tokens == {"T": "token-user"}
    assert (s.users, s.access_keys) == ((DEMO_USER,), (DEMO_KEY,))
    assert (s.delete_duration_s, s.deletions_per_user, s.status_lag_s) == ((0.1, 0.2), 3, 1.5)
    assert (s.fail_rate, s.token_ttl_s) == (0.1, 60)
    assert s.faults == (CbrFaultRule("get_backup", "500", rate=0.1),
                        CbrFaultRule("delete", "429-retry-after", times=3, retry_after_s=2.0))


def test_service_cbr_reads_the_cbr_example_scenario_and_flags_win():
    """The documented CBR scenario file loads; its credentials stay, flags beside it win."""
    s = build_scenario(parse("--service", "cbr", "--scenario", str(CBR_EXAMPLE), "--tasks-per-user", "2",
                                 "--fault", "list_vaults:503"))
    assert s.project_id == "0123456789abcdef0123456789abcdef"
    assert s.tokens == {"emulator-token": "token-user"} and s.users[0].name == "cbr-demo"
    assert s.deletions_per_user == 2 and s.gone_answer == "404"
    assert [f.route for f in s.faults] == ["list_backups", "delete", "list_vaults"]


@pytest.mark.parametrize("argv", [("--gone-mode", "deleted"), ("--busy-mode", "409"), ("--stuck-rate", "0.1"),
                                  ("--fault", "list:500"), ("--fault", "get_backup:404-apigw"), ("--ak", "AK")])
def test_service_cbr_refuses_csbs_only_flags_and_routes(argv):
    """CSBS-only switches, CSBS fault routes and half credentials are ScenarioErrors for --service cbr."""
    with pytest.raises(ScenarioError):
        build_scenario(parse("--service", "cbr", *argv))


def test_cbr_banner_says_service_cbr():
    """The CBR start message names the vaults and the endpoint line carries CSBS_SERVICE=cbr."""
    s = build_scenario(parse("--service", "cbr", "--project", "P"))
    _, holds = FACES["cbr"].start(s, 0, 3)
    text = banner(FACES["cbr"], s, "http://127.0.0.1:9999", holds)
    assert text.splitlines()[0] == "CBR emulator listening on http://127.0.0.1:9999"
    for needle in ("CSBS_SERVICE=cbr CSBS_ENDPOINT=http://127.0.0.1:9999 CSBS_PROJECT_ID=P", "3 backups",
                   "CSBS_AUTH_TOKEN=emulator-token", "CSBS_IAM_ENDPOINT=http://127.0.0.1:9999",
                   "HUAWEICLOUD_SDK_AK=", *CBR_VAULTS):
        assert needle in text


async def test_python_m_worker_emulator_service_cbr_serves_until_sigterm():
    """``--service cbr --port 0``: banner, seeded backups over both vaults, IAM sign-in, stop on SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker.emulator", "--service", "cbr", "--port", "0", "--project", "P",
        "--seed", "4", "--token", "T", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        head = [(await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode() for _ in range(3)]
        base = re.search(r"http://127\.0\.0\.1:\d+", head[0])
        assert base is not None and head[0].startswith("CBR emulator"), head
        assert f"CSBS_SERVICE=cbr CSBS_ENDPOINT={base.group(0)} CSBS_PROJECT_ID=P" in head[2]
        async with aiohttp.ClientSession(headers={"X-Auth-Token": "T"}) as session:
            async with session.get(f"{base.group(0)}/v3/P/backups", params={"parent_id": ""}) as response:
                listed = await response.json()
            async with session.get(f"{base.group(0)}/v3/P/vaults") as response:
                vaults = await response.json()
            login = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": DEMO_USER.name, "password": DEMO_USER.password, "domain": {"name": DEMO_USER.domain}}}},
                "scope": {"project": {"id": "P"}}}}
            async with session.post(f"{base.group(0)}/v3/auth/tokens", json=login) as response:
                signed_in = response.status, response.headers.get("X-Subject-Token")
        top = [b for b in listed["backups"] if not b["parent_id"]]
        assert len(top) == 4 and all(len(b["children"]) == 1 for b in top)
        assert {v["name"] for v in vaults["vaults"]} == set(CBR_VAULTS)
        assert signed_in[0] == 201 and signed_in[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 0
    assert b"cbr emulator: stopped" in out
