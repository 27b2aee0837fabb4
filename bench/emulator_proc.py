"""Serve one seeded CSBS emulator for a benchmark, in its own process, until SIGTERM or SIGINT.

Run as ``python bench/emulator_proc.py CONFIG_JSON``. The config holds ``project_id``, ``token``,
``delete_duration_s`` ([min, max]), ``faults`` (FaultRule keyword dicts), ``seed`` and ``plan`` (a
plain-text plan file, ``CHECKPOINT_ID ITEM_ID`` per line, whose backups are seeded; may be null).

Once listening it prints one JSON line: ``{"endpoint": URL, "control": URL}``. The control URL is a
second, separate server (no auth, no faults, not counted) whose ``GET /stats`` answers the emulator's
counters, so reading them never disturbs what the cloud is measured to have received.
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import sys
from typing import Any

from aiohttp import web

from worker.emulator import Emulator, FaultRule, Scenario, serve

BENCH_USER = "bench"


def build_emulator(config: dict[str, Any]) -> Emulator:
    """The emulator the config describes, seeded with the plan's backups."""
    low, high = config.get("delete_duration_s", (1.0, 5.0))
    scenario = Scenario(
        project_id=config["project_id"],
        tokens={config["token"]: BENCH_USER},
        delete_duration_s=(float(low), float(high)),
        faults=tuple(FaultRule(**rule) for rule in config.get("faults", ())),
    )
    emulator = Emulator(scenario, seed=int(config.get("seed", 0)))
    if config.get("plan"):
        emulator.seed_plan(read_records(config["plan"]).items())
    return emulator


def read_records(path: str) -> dict[str, list[str]]:
    """The plan's item ids grouped by record, in plan order."""
    records: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as plan:
        for line in plan:
            checkpoint_id, *items = line.split()
            records.setdefault(checkpoint_id, []).extend(items)
    return records


def stats_json(emulator: Emulator) -> dict[str, Any]:
    """What the cloud saw, plus the emulator process's own CPU time (to show it is not the bottleneck)."""
    stats = emulator.stats  # brings task state up to now
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "requests_by_route": dict(stats.requests_by_route),
        "responses_by_status": {str(k): v for k, v in stats.responses_by_status.items()},
        "faults_by_kind": dict(stats.faults_by_kind),
        "max_outstanding": stats.max_outstanding,
        "task_running_seconds": stats.task_running_seconds,
        "tasks_started": stats.tasks_started,
        "tasks_finished": stats.tasks_finished,
        "first_task_start": stats.first_task_start,
        "last_task_end": stats.last_task_end,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def control_app(emulator: Emulator) -> web.Application:
    """The read-only side door for the bench process."""

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(stats_json(emulator))

    app = web.Application()
    app.router.add_get("/stats", stats)
    return app


async def serve_until_signal(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    control = web.AppRunner(control_app(emulator), access_log=None)
    await control.setup()
    site = web.TCPSite(control, "127.0.0.1", 0)
    await site.start()
    host, port = control.addresses[0][:2]
    try:
        async with serve(emulator, host="127.0.0.1", port=0) as endpoint:
            print(json.dumps({"endpoint": endpoint, "control": f"http://{host}:{port}"}), flush=True)
            await stop.wait()
    finally:
        await control.cleanup()


def main(argv: list[str]) -> int:
    emulator = build_emulator(json.loads(argv[1]))
    asyncio.run(serve_until_signal(emulator))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
