"""Serve a fleet of emulators for a benchmark (``worker.emulator.fleet.serve_fleet``), in its own process, until
SIGTERM or SIGINT: one emulator per site (a service and an endpoint), every site on one per-user task board, so
that each user's five deletions at once hold over all its projects, regions and both services, as in the cloud.

Run as ``python -m bench.fleet_emulator_proc CONFIG_JSON`` from the repository's root. The config holds ``users``
(names), ``sites`` (``{"service", "endpoint", "projects"}``; the endpoint is only the site's name here: every
site listens on a loopback port of its own), ``plans`` (``{"service", "endpoint", "project", "plan"}``: a
plain-text plan whose backups are seeded in that project of that site; for CSBS ``CHECKPOINT_ID ITEM_ID`` per
line, for CBR one backup id per line), ``delete_duration_s`` ([min, max]) and ``seed``. Everything is seeded
before the process says where it listens.

Once listening it prints one JSON line: ``{"sites": [{"service", "endpoint", "url"}], "tokens": {user: token},
"control": URL}``. The control URL is a separate server (no auth, not counted) whose ``GET /stats`` answers the
counters of every site (``stats_json`` of ``bench/emulator_proc.py``), their requests summed, and per user: the
high-water mark of deletions waiting and running at once over the whole fleet, the tasks that ended and their
server-side running seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from bench.emulator_proc import control_server, stats_json, stop_on_signal
from worker.emulator.fleet import FleetCloud, FleetSite, serve_fleet


def plan_tasks(service: str, path: str) -> Iterator[tuple[str, str | None]]:
    """A plain-text plan's tasks as the fleet seeds them: (record, backup) for CSBS, ("", backup) for CBR."""
    with open(path, encoding="utf-8") as plan:
        for line in plan:
            words = line.split()
            if words:
                yield (words[0], words[1]) if service == "csbs" else ("", words[0])


def fleet_stats(cloud: FleetCloud, config: dict[str, Any]) -> dict[str, Any]:
    """What the fleet's cloud saw: every site's counters (reading them brings the shared board up to now), the
    requests summed, and the per-user figures."""
    sites = [{"service": site["service"], "endpoint": site["endpoint"],
              **stats_json(cloud.emulator(site["service"], site["endpoint"]))} for site in config["sites"]]
    requests: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    for site in sites:
        requests.update({f"{site['service']}:{route}": n for route, n in site["requests_by_route"].items()})
        faults.update(site["faults_by_kind"])
    board = cloud.board  # brought up to now by reading the sites' stats above
    users = {user: {"tasks_ended": board.ended_by_user[user], "running_s": board.running_s_by_user.get(user, 0.0),
                    "max_outstanding": cloud.outstanding_high_water(user)} for user in config["users"]}
    return {"requests_by_route": dict(requests), "faults_by_kind": dict(faults), "users": users,
            "cpu_s": sites[0]["cpu_s"] if sites else 0.0, "sites": sites}


async def serve_until_signal(config: dict[str, Any]) -> None:
    stop = stop_on_signal()
    sites = [FleetSite(site["service"], site["endpoint"], tuple(site["projects"])) for site in config["sites"]]
    low, high = config["delete_duration_s"]
    async with serve_fleet(sites, config["users"], seed=int(config.get("seed", 1)),
                           scenario={"delete_duration_s": (float(low), float(high))}) as cloud:
        for seeded in config["plans"]:
            cloud.seed_tasks(seeded["service"], seeded["endpoint"], seeded["project"],
                             list(plan_tasks(seeded["service"], seeded["plan"])))
        async with control_server(lambda: fleet_stats(cloud, config)) as control:
            urls = [{"service": site.service, "endpoint": site.endpoint, "url": cloud.url(site.service, site.endpoint)}
                    for site in sites]
            tokens = {user: cloud.token(user) for user in config["users"]}
            print(json.dumps({"sites": urls, "tokens": tokens, "control": control}), flush=True)
            await stop.wait()


def main(argv: list[str]) -> int:
    asyncio.run(serve_until_signal(json.loads(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
