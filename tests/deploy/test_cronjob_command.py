"""The CronJob's own command line, run as a process against the embedded emulator, as the pod would run it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.deploy.manifests import BASE, by_kind, flag_value, render_simple, worker_container
from tests.metrics.gateway import fake_pushgateway

# Fast emulated deletions and fast polling, so the run takes about a second; the manifests' own values
# (deadline, grace, report, log format, config and policy) stay as they are.
SCENARIO = "delete_duration_s: [0.05, 0.15]\n"
FAST_POLLING = {"CSBS_POLL_FIRST": "0.05", "CSBS_POLL_MIN": "0.05", "CSBS_POLL_MAX": "0.1"}


def pod_command(folder: Path, pushgateway: str) -> list[str]:
    """The container args, with the ConfigMap files, /tmp and the Pushgateway moved to this test's places.

    Also writes the emulator scenario there.
    """
    objects = render_simple(BASE)
    (folder / "scenario.yaml").write_text(SCENARIO, encoding="utf-8")
    (config_map,) = by_kind(objects, "ConfigMap")
    for name, text in config_map["data"].items():
        (folder / name).write_text(text, encoding="utf-8")
    mounts = ("/etc/csbs-worker/", "/tmp/")
    args = [str(folder / Path(arg).name) if arg.startswith(mounts) else arg
            for arg in worker_container(by_kind(objects, "CronJob")[0])["args"]]
    args[args.index("--pushgateway") + 1] = pushgateway
    return args


def read_json(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def pod_environment(folder: Path) -> dict[str, str]:
    """This process's environment without any worker setting or secret, plus the image's variables."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CSBS_", "HUAWEICLOUD_"))}
    return {**env, **FAST_POLLING, "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(folder), "TMPDIR": str(folder)}


async def test_the_cronjob_command_runs_reports_and_pushes_metrics(tmp_path: Path) -> None:
    """With --emulator added, the pod's command exits 0, writes its report in /tmp and pushes one POST of metrics."""
    async with fake_pushgateway() as gateway:
        args = pod_command(tmp_path, gateway.url)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", *args, "--emulator", "--emulator-scenario", str(tmp_path / "scenario.yaml"),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=pod_environment(tmp_path))
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()[-2000:]
    events = [json.loads(line) for line in stderr.decode().splitlines()]  # every log line is JSON
    summary = next(event for event in events if event["event"] == "run_summary")
    report = read_json(flag_value(args, "--report"))
    assert report["counts"] == {key: summary[key] for key in report["counts"]}
    assert report["counts"]["deleted"] > 0
    (push,) = gateway.requests
    assert push.method == "POST" and push.path == f"/metrics/job/csbs-worker/project/{report['project_id']}"
    assert push.samples()[("csbs_worker_run_tasks", (("outcome", "deleted"),))] == report["counts"]["deleted"]
    assert "csbs_worker_last_success_timestamp_seconds" in push.series_names()
