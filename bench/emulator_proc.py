"""Serve one seeded CSBS (or CBR) emulator for a benchmark, in its own process, until SIGTERM or SIGINT.

Run as ``python bench/emulator_proc.py [--service cbr] CONFIG_JSON``. The config holds ``project_id``,
``token``, ``delete_duration_s`` ([min, max]), ``faults`` (FaultRule keyword dicts; CbrFaultRule for CBR),
``seed``, ``plan`` (a plain-text plan file whose backups are seeded; may be null: for CSBS
``CHECKPOINT_ID ITEM_ID`` per line, for CBR one backup id per line, each seeded as a server backup with
one disk child), ``random_backups`` and ``servers`` (that many more backups over that many servers, for
the planner; CBR: over the vaults ``default`` and a policy-named one), ``scenario`` (more keys of the
service's scenario, e.g. ``{"progress_reported": false, "busy_first_deletes": 2}``) and ``service``
(``csbs`` by default; ``--service`` wins). Everything is seeded before the port opens.

Once listening it prints one JSON line: ``{"endpoint": URL, "control": URL}``. The control URL is a
second, separate server (no auth, no faults, not counted) whose ``GET /stats`` answers the emulator's
counters, so reading them never disturbs what the cloud is measured to have received.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from worker.emulator import Emulator, FaultRule, Scenario, serve
from worker.emulator.cbr import CbrEmulator, CbrFaultRule, CbrScenario
from worker.emulator.cbr import serve as serve_cbr

BENCH_USER = "bench"
POLICY_VAULT = "daily-backup-policy"  # a vault named after a migrated CSBS policy (docs/cbr-api.md)
SPREAD_DAYS = 180.0  # random backups are this old at most
AnyEmulator = Emulator | CbrEmulator


def build_emulator(config: dict[str, Any]) -> AnyEmulator:
    """The emulator of ``config["service"]`` the config describes, seeded."""
    return BUILDERS[config.get("service", "csbs")](config)


def build_csbs_emulator(config: dict[str, Any]) -> Emulator:
    """The CSBS emulator the config describes, seeded with the plan's backups (and random ones)."""
    low, high = config.get("delete_duration_s", (1.0, 5.0))
    scenario = Scenario(
        project_id=config["project_id"],
        tokens={config["token"]: BENCH_USER},
        delete_duration_s=(float(low), float(high)),
        faults=tuple(FaultRule(**rule) for rule in config.get("faults", ())),
        **config.get("scenario", {}),
    )
    emulator = Emulator(scenario, seed=int(config.get("seed", 0)))
    if config.get("plan"):
        emulator.seed_plan(read_records(config["plan"]).items())
    rng, servers, times = _population(config)
    policies = [f"policy-{n}" for n in range(3)]
    left = int(config.get("random_backups", 0))
    while left > 0:  # records of 1-3 backups, one server each, as a CSBS policy makes them
        size = min(left, rng.randint(1, 3))
        checkpoint_id, created = _uuid(rng), times()
        policy = rng.choice(policies) if rng.random() < 0.75 else None
        for resource_id, resource_name in rng.sample(servers, k=size):
            emulator.add_item(checkpoint_id=checkpoint_id, resource_id=resource_id, resource_name=resource_name,
                              created_at=created, policy_id=policy)
        left -= size
    return emulator


def build_cbr_emulator(config: dict[str, Any]) -> CbrEmulator:
    """The CBR emulator the config describes: the plan's backup ids (each with a disk child), then the
    random backups over ``default`` and ``POLICY_VAULT`` (automatic ones in the policy's vault)."""
    low, high = config.get("delete_duration_s", (1.0, 5.0))
    scenario = CbrScenario(
        project_id=config["project_id"],
        tokens={config["token"]: BENCH_USER},
        delete_duration_s=(float(low), float(high)),
        faults=tuple(CbrFaultRule(**rule) for rule in config.get("faults", ())),
        **config.get("scenario", {}),
    )
    emulator = CbrEmulator(scenario, seed=int(config.get("seed", 0)))
    if config.get("plan"):
        with open(config["plan"], encoding="utf-8") as plan:
            emulator.seed_plan(line.strip() for line in plan if line.strip())
    rng, servers, times = _population(config)
    vaults = {True: emulator.vault_id(POLICY_VAULT), False: emulator.vault_id("default")}
    for _ in range(int(config.get("random_backups", 0))):
        resource_id, resource_name = rng.choice(servers)
        auto = rng.random() < 0.75
        emulator.add_backup(vault_id=vaults[auto], auto=auto, resource_id=resource_id, resource_name=resource_name,
                            created_at=times())
    return emulator


def _population(config: dict[str, Any]) -> tuple[random.Random, list[tuple[str, str]], Any]:
    """A seeded generator, ``servers`` (id, name) pairs, and a maker of creation times in the last 180 days."""
    rng = random.Random(f"{config.get('seed', 0)}:bench-population")
    servers = [(_uuid(rng), f"ecs-bench-{n:05d}") for n in range(int(config.get("servers", 12)))]
    now = datetime.now().astimezone()

    def created() -> datetime:
        return now - timedelta(days=rng.uniform(0.5, SPREAD_DAYS))

    return rng, servers, created


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def read_records(path: str) -> dict[str, list[str]]:
    """The plan's item ids grouped by record, in plan order."""
    records: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as plan:
        for line in plan:
            checkpoint_id, *items = line.split()
            records.setdefault(checkpoint_id, []).extend(items)
    return records


def stats_json(emulator: AnyEmulator) -> dict[str, Any]:
    """What the cloud saw, plus the emulator process's own CPU time (to show it is not the bottleneck)."""
    stats = emulator.stats  # brings task state up to now
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "requests_by_route": dict(stats.requests_by_route),
        "responses_by_status": {str(k): v for k, v in stats.responses_by_status.items()},
        "faults_by_kind": dict(stats.faults_by_kind),  # busy_first_deletes' answers under "busy-first"
        "max_outstanding": stats.max_outstanding,
        "task_running_seconds": stats.task_running_seconds,
        "tasks_started": stats.tasks_started,
        "tasks_finished": stats.tasks_finished,
        "first_task_start": stats.first_task_start,
        "last_task_end": stats.last_task_end,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


@contextlib.asynccontextmanager
async def control_server(stats: Callable[[], dict[str, Any]]) -> AsyncIterator[str]:
    """The read-only side door for the bench process on loopback, its URL while the block runs: ``GET /stats``
    answers ``stats()``."""

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(stats())

    app = web.Application()
    app.router.add_get("/stats", answer)
    control = web.AppRunner(app, access_log=None)
    await control.setup()
    try:
        site = web.TCPSite(control, "127.0.0.1", 0)
        await site.start()
        host, port = control.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await control.cleanup()


def stop_on_signal() -> asyncio.Event:
    """An event that SIGINT or SIGTERM sets (from now on)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def serve_until_signal(emulator: AnyEmulator) -> None:
    stop = stop_on_signal()
    async with control_server(lambda: stats_json(emulator)) as control:
        server = (serve_cbr(emulator, host="127.0.0.1", port=0) if isinstance(emulator, CbrEmulator)
                  else serve(emulator, host="127.0.0.1", port=0))
        async with server as endpoint:
            print(json.dumps({"endpoint": endpoint, "control": control}), flush=True)
            await stop.wait()


BUILDERS: dict[str, Callable[[dict[str, Any]], AnyEmulator]] = dict(csbs=build_csbs_emulator,
                                                                   cbr=build_cbr_emulator)
"""The emulator builder of each service the bench runs."""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="serve a seeded emulator for bench/run.py")
    parser.add_argument("--service", choices=("csbs", "cbr"), help="the API to serve (default: the config's)")
    parser.add_argument("config", help="the config, as JSON")
    args = parser.parse_args(argv[1:])
    config = json.loads(args.config)
    if args.service:
        config["service"] = args.service
    emulator = build_emulator(config)
    asyncio.run(serve_until_signal(emulator))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
