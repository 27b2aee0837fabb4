"""A fleet of emulators on loopback, served from a thread of its own while the worker runs in the test's thread
(as ``tests.harness`` serves one emulator), and the fleet files the run tests write for it."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.emulator.fleet import FleetCloud, FleetSite, serve_fleet

CSBS_EP = "https://csbs.eu-de.otc.t-systems.com"
CSBS_NL = "https://csbs.eu-nl.otc.t-systems.com"
CBR_EP = "https://cbr.eu-de.otc.t-systems.com"
# The fleet's per-target timings scaled down as tests.harness.FAST scales a one-project run's: in a fleet they
# come from the fleet file, never from the environment.
FAST_TARGETS = {"poll_first": 0.05, "poll_min": 0.02, "poll_max": 0.2, "lag_window": 0.5, "task_timeout": 60,
                "max_rps": 1000}


class ServedFleet:
    """``serve_fleet`` on 127.0.0.1 from a daemon thread until ``close``; ``call`` runs on its loop."""

    def __init__(self, sites: Sequence[FleetSite], users: Sequence[str], scenario: Mapping[str, Any]) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._cloud: FleetCloud | None = None
        self._args = (sites, users, scenario)
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._serve(),), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fleet did not start")

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        sites, users, scenario = self._args
        async with serve_fleet(sites, users, scenario=scenario) as cloud:
            self._cloud = cloud
            self._ready.set()
            await self._stop.wait()

    @property
    def cloud(self) -> FleetCloud:
        assert self._cloud is not None
        return self._cloud

    def call(self, function: Any, *args: Any) -> Any:
        async def run() -> Any:
            return function(*args)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def seed(self, service: str, endpoint: str, project: str, count: int) -> list[tuple[str, str]]:
        """``count`` backups of one project, as plan pairs (CSBS: record and backup; CBR: "" and backup)."""
        pairs = [(str(uuid.uuid4()) if service == "csbs" else "", str(uuid.uuid4())) for _ in range(count)]
        if pairs:
            self.call(self.cloud.seed_tasks, service, endpoint, project, pairs)
        return pairs

    def requests(self, service: str, endpoint: str, route: str | None = None) -> int:
        """Requests one site received (of one route, e.g. ``delete``)."""
        stats = self.call(lambda: self.cloud.emulator(service, endpoint).stats)
        counted = stats.requests_by_route
        return sum(counted.values()) if route is None else counted.get(route, 0)

    def high_water(self, user: str) -> int:
        return int(self.call(self.cloud.outstanding_high_water, user))

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@contextmanager
def fleet_on_loopback(sites: Sequence[FleetSite], users: Sequence[str], **scenario: Any) -> Iterator[ServedFleet]:
    """The fleet's sites, fast deletions unless told otherwise."""
    served = ServedFleet(sites, users, {"delete_duration_s": (0.05, 0.3), **scenario})
    try:
        yield served
    finally:
        served.close()


@dataclass
class Target:
    """One target of a fleet file the tests write."""

    name: str
    service: str
    endpoint: str  # the site's key; the file gets the site's loopback URL
    project: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def plan_text(target: Target) -> str:
    if target.service == "csbs":
        return "".join(f"{record} {backup}\n" for record, backup in target.pairs)
    return "".join(f"{backup}\n" for _, backup in target.pairs)


def write_fleet(folder: Path, served: ServedFleet | None, users: Mapping[str, Sequence[Target]],
                **defaults: Any) -> Path:
    """A fleet file (with one plan file per target) in ``folder``: users in order, prefix ``<NAME>_``."""
    lines = ["defaults:"] + [f"  {key}: {value}" for key, value in {**FAST_TARGETS, **defaults}.items()]
    lines.append("users:")
    for user, targets in users.items():
        lines += [f"  - name: {user}", f"    env_prefix: {prefix(user)}", "    targets:"]
        for target in targets:
            url = served.cloud.url(target.service, target.endpoint) if served is not None else target.endpoint
            (folder / f"{target.name}.txt").write_text(plan_text(target), encoding="utf-8")
            lines += [f"      - name: {target.name}", f"        service: {target.service}",
                      f"        endpoint: {url}", f"        project_id: {target.project}",
                      f"        plan: {target.name}.txt"]
            lines += [f"        {key}: {value}" for key, value in target.extra.items()]
    path = folder / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prefix(user: str) -> str:
    return user.upper().replace("-", "_") + "_"


def sign_ins(served: ServedFleet, users: Sequence[str]) -> dict[str, str]:
    """Each user's token, behind its prefix."""
    return {f"{prefix(user)}CSBS_AUTH_TOKEN": served.cloud.token(user) for user in users}
