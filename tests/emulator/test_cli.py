"""The emulator command: options, the scenario they build, and a real ``python -m worker.emulator`` run."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys

import aiohttp
import pytest

from worker.emulator import FaultRule, ScenarioError, add_arguments
from worker.emulator.cli import DEMO_KEY, DEMO_TOKEN, DEMO_USER, banner, build_scenario, records_to_seed


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


@pytest.mark.parametrize("argv", [("--fault", "delete:teapot"), ("--fault", "list:500:often=1"),
                                  ("--user", "u"), ("--ak", "AK")])
def test_bad_options_are_scenario_errors(argv):
    """An unknown fault kind or option, or half a credential, is refused with a ScenarioError."""
    with pytest.raises(ScenarioError):
        build_scenario(parse(*argv))


def test_banner_names_url_and_each_way_to_sign_in():
    """The start message gives the base URL and the token, IAM user and AK/SK to use."""
    s = build_scenario(parse("--project", "P"))
    text = banner(s, "http://127.0.0.1:9999", [("c", ["i1", "i2"])])
    assert text.splitlines()[0] == "CSBS emulator listening on http://127.0.0.1:9999"
    for needle in ("CSBS_AUTH_TOKEN=emulator-token", "CSBS_USERNAME=csbs-demo", "HUAWEICLOUD_SDK_AK=",
                   "CSBS_PROJECT_ID=P", "2 backups in 1 records"):
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
