"""The ``fleet`` scenario of ``bench/run.py`` (issue 19): one pool of five slots per IAM user over all its targets.

Two measurements, each against one emulator process that serves a whole fleet (``bench/fleet_emulator_proc.py``:
one emulator per service and region, all on one per-user task board, so that each user's five deletions at
once hold across its projects, regions and both services, as in the cloud):

1. **Fleet against fixed split.** ``users`` users with five targets each, CSBS and CBR over two regions, the
   targets of a user of different sizes (40, 70, 100, 130, 160 deletions: 500 per user), run as ONE
   ``python -m worker fleet FLEET_FILE`` process; then the same work as one ``python -m worker delete`` process
   per target, all started at once, each with a fixed fifth of its user's slots (``--concurrency 1``). Per
   user: utilization = the user's server-side task time / (5 x its makespan, from its first DELETE to the last
   end it sees); the minimum and median over users. Besides: requests per task, the most deletions of one user
   ever outstanding at once (the board's high-water mark: at most 5), the worker processes' CPU per task and
   peak RSS. The separate processes start skewed (a hundred interpreters on a small machine take seconds, and
   at scaled time a second is minutes), so their utilization is also given with the skew taken out: as if
   each user's processes had started at the same instant (each target's own span, the longest of the user's).
2. **Work conservation** (the issue's "Done when"): one user with two CSBS targets and one CBR target, and one
   target of a second user in parallel, in one fleet run; then the same number of deletions in ONE target run
   alone (``delete``, five slots). The first user's makespan over the alone run's, at most 1.10; since the two
   runs draw different durations, the ratio of their utilizations shows the same without that noise.

Every duration (30-300 s) and the worker's time settings are scaled by a time factor, as in the other scenarios.
A fleet takes its per-target and per-user settings (polls, lag window, task timeout, concurrency, request
rate) only from its file, so they go in its ``defaults:``; the per-run ones (retries, progress) are flags.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.run import (
    BENCH_DIR,
    PLAN_WRITERS,
    REAL_DURATION_S,
    SCALED_SETTINGS,
    SLOTS,
    TARGETS,
    EmulatorProcess,
    Finished,
    _routes,
    _unix,
    emit,
    listening_process,
    print_table,
    run_process,
    scaled_flags,
)
from worker.fleet.levels import DEFAULTS_KEYS

REGIONS = ("eu-de", "eu-nl")
SERVICE_MIX = ("csbs", "cbr", "csbs", "cbr", "csbs")  # the services of a user's five targets
FLEET_TARGETS = {
    "requests_per_task": TARGETS["requests_per_task"],
    "max_outstanding": TARGETS["max_outstanding"],  # per user, over all its targets
    "conservation_ratio": "<= 1.10",  # the issue's: a user's targets together at most 10 % longer than one alone
}


@dataclass(frozen=True)
class FleetSizes:
    """How big the scenario is; ``FULL`` as the issue asks (about 6 minutes), ``QUICK`` in about 1.5 minutes."""

    users: int
    target_tasks: tuple[int, ...]  # the sizes of a user's targets (each user's list turned by one)
    time_factor: float
    conservation_tasks: int  # each target of the work conservation runs (the alone run: three times this)
    conservation_factor: float


FULL = FleetSizes(users=20, target_tasks=(40, 70, 100, 130, 160), time_factor=0.005, conservation_tasks=100,
                  conservation_factor=0.005)
QUICK = FleetSizes(users=4, target_tasks=(8, 14, 20, 26, 32), time_factor=0.003, conservation_tasks=100,
                   conservation_factor=0.002)


@dataclass(frozen=True)
class Target:
    """One target of the bench's fleet: a project of one service at one site (service and region)."""

    user: str
    name: str
    service: str
    site: str  # the endpoint's name in the emulator (its URL is known once it listens)
    tasks: int
    plan: Path

    @property
    def project_id(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()[:32]


def new_target(workdir: Path, user: str, name: str, service: str, region: str, tasks: int, seed: int) -> Target:
    """A target and its plain-text plan of ``tasks`` backups (ids drawn from ``seed``)."""
    plan = PLAN_WRITERS[service](workdir / f"{name}.txt", tasks, seed=seed)
    return Target(user, name, service, f"{service}.{region}", tasks, plan)


def env_prefix(user: str) -> str:
    """The user's env_prefix in the fleet file: ``user-03`` -> ``USER_03_``."""
    return user.upper().replace("-", "_") + "_"


def fleet_targets(workdir: Path, sizes: FleetSizes) -> list[Target]:
    """Five targets per user, CSBS and CBR over both regions, of the sizes ``target_tasks`` turned by the user's
    number (so a user's biggest target is not always of one service)."""
    targets = []
    for u in range(sizes.users):
        for k, service in enumerate(SERVICE_MIX):
            n = u * len(SERVICE_MIX) + k
            tasks = sizes.target_tasks[(u + k) % len(sizes.target_tasks)]
            targets.append(new_target(workdir, f"user-{u:02d}", f"u{u:02d}-t{k}-{service}", service,
                                      REGIONS[(u + k) % len(REGIONS)], tasks, seed=n))
    return targets


def conservation_targets(workdir: Path, tasks: int) -> tuple[list[Target], Target]:
    """The issue's fleet (two CSBS projects and one CBR project of ``wc-a``, one CSBS project of ``wc-b``), and
    the target that runs the first user's deletions alone."""
    fleet = [new_target(workdir, "wc-a", "wc-a-csbs-1", "csbs", "eu-de", tasks, seed=1001),
             new_target(workdir, "wc-a", "wc-a-csbs-2", "csbs", "eu-nl", tasks, seed=1002),
             new_target(workdir, "wc-a", "wc-a-cbr", "cbr", "eu-de", tasks, seed=1003),
             new_target(workdir, "wc-b", "wc-b-csbs", "csbs", "eu-de", tasks, seed=1004)]
    alone = new_target(workdir, "wc-alone", "wc-alone-csbs", "csbs", "eu-de", 3 * tasks, seed=1005)
    return fleet, alone


# -- the emulator of a fleet -----------------------------------------------------------------------------


@dataclass
class FleetEmulator:
    """A running ``bench/fleet_emulator_proc.py``: each site's URL, each user's token, its counters."""

    urls: dict[str, str]  # site -> its loopback URL
    tokens: dict[str, str]  # user -> token
    control: str
    process: subprocess.Popen[bytes]

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.control}/stats", timeout=60) as answer:
            stats: dict[str, Any] = json.load(answer)
        return stats

    def delete_env(self, target: Target) -> dict[str, str]:
        """The environment of a ``delete`` run of ``target``: its site, project and user's token."""
        site = EmulatorProcess(self.urls[target.site], self.control, self.process, target.service)
        return {**site.env(), "CSBS_PROJECT_ID": target.project_id, "CSBS_AUTH_TOKEN": self.tokens[target.user]}

    def fleet_env(self, targets: Sequence[Target]) -> dict[str, str]:
        """The environment of a ``fleet`` run: each user's token behind its env_prefix, and no unprefixed
        setting (a fleet ignores them, with a warning)."""
        clean = {k: v for k, v in self.delete_env(targets[0]).items() if not k.startswith("CSBS_")}
        return {**clean, **{f"{env_prefix(t.user)}CSBS_AUTH_TOKEN": self.tokens[t.user] for t in targets}}


def emulator_config(targets: Sequence[Target], duration_s: tuple[float, float], seed: int) -> dict[str, Any]:
    """The config of ``bench/fleet_emulator_proc.py`` for these targets."""
    sites: dict[tuple[str, str], list[str]] = {}
    for target in targets:
        sites.setdefault((target.service, target.site), []).append(target.project_id)
    return {"users": list(dict.fromkeys(t.user for t in targets)),
            "sites": [{"service": service, "endpoint": site, "projects": projects}
                      for (service, site), projects in sites.items()],
            "plans": [{"service": t.service, "endpoint": t.site, "project": t.project_id, "plan": str(t.plan)}
                      for t in targets],
            "delete_duration_s": list(duration_s), "seed": seed}


@contextlib.contextmanager
def fleet_emulator(targets: Sequence[Target], factor: float, seed: int = 1) -> Iterator[FleetEmulator]:
    """Start an emulator process serving these targets, deletions of 30-300 s times ``factor``; stop it on
    leaving."""
    duration = (REAL_DURATION_S[0] * factor, REAL_DURATION_S[1] * factor)
    config = json.dumps(emulator_config(targets, duration, seed))
    argv = [sys.executable, "-m", "bench.fleet_emulator_proc", config]
    with listening_process(argv, "the fleet emulator process", cwd=BENCH_DIR.parent) as (process, started):
        urls = {site["endpoint"]: site["url"] for site in started["sites"]}
        yield FleetEmulator(urls, started["tokens"], started["control"], process)


# -- the worker ------------------------------------------------------------------------------------------


def fleet_settings(factor: float) -> tuple[dict[str, float], list[str]]:
    """``scaled_flags`` as a fleet takes them: its per-target and per-user settings in the fleet file's
    ``defaults:`` (a fleet reads them nowhere else), the per-run ones as flags."""
    flags = scaled_flags(factor)
    defaults: dict[str, float] = {}
    per_run: list[str] = []
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        key = flag.removeprefix("--").replace("-", "_")
        if key in DEFAULTS_KEYS:
            defaults[key] = float(value)
        else:
            per_run += [flag, value]
    return defaults, per_run


def write_fleet_file(path: Path, targets: Sequence[Target], emu: FleetEmulator, defaults: Mapping[str, float]) -> Path:
    """The fleet file of ``targets`` against ``emu``, the scaled settings in its ``defaults:``."""
    users: dict[str, list[dict[str, str]]] = {}
    for t in targets:
        users.setdefault(t.user, []).append({"name": t.name, "service": t.service, "endpoint": emu.urls[t.site],
                                             "project_id": t.project_id, "plan": str(t.plan)})
    fleet = {"defaults": {**defaults, "concurrency": SLOTS},
             "users": [{"name": user, "env_prefix": env_prefix(user), "targets": listed}
                       for user, listed in users.items()]}
    path.write_text(yaml.safe_dump(fleet, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Ran:
    """The worker processes of one measurement, the rows of every target's report, and what the cloud saw."""

    processes: list[Finished]
    wall_s: float  # the first process's start to the last one's end
    rows: dict[str, list[dict[str, Any]]]  # target name -> its report's results
    exit_codes: list[int]
    stats: dict[str, Any]


def run_fleet(workdir: Path, emu: FleetEmulator, targets: Sequence[Target], factor: float) -> Ran:
    """One ``python -m worker fleet`` process over every target."""
    defaults, flags = fleet_settings(factor)
    fleet_file = write_fleet_file(workdir / "fleet.yaml", targets, emu, defaults)
    report_path = workdir / "fleet-report.json"
    argv = [sys.executable, "-m", "worker", "fleet", str(fleet_file), "--log-format", "json", "--report",
            str(report_path), *flags]
    finished = run_process(argv, emu.fleet_env(targets), stderr=workdir / "fleet.log")
    stats = emu.stats()
    report = read_report(report_path, workdir / "fleet.log", finished)
    rows = {target["name"]: target["results"] for target in report["targets"]}
    return Ran([finished], finished.wall_s, rows, [finished.exit_code], stats)


def read_report(path: Path, log: Path, process: Finished) -> dict[str, Any]:
    """A worker's JSON report; without one the run's figures mean nothing: stop, with the end of its log."""
    if not path.exists():
        raise RuntimeError(f"the worker exited {process.exit_code} without a report; its log ends: "
                           f"{log.read_text(errors='replace')[-2000:]}")
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def run_deletes(workdir: Path, emu: FleetEmulator, targets: Sequence[Target], factor: float,
                concurrency: int) -> Ran:
    """One ``python -m worker delete`` process per target with ``--concurrency concurrency``, all at once."""

    def one(target: Target) -> tuple[Finished, list[dict[str, Any]]]:
        report, log = workdir / f"{target.name}-report.json", workdir / f"{target.name}.log"
        argv = [sys.executable, "-m", "worker", "delete", str(target.plan), "--log-format", "json", "--report",
                str(report), "--concurrency", str(concurrency), *scaled_flags(factor)]
        finished = run_process(argv, emu.delete_env(target), stderr=log)
        return finished, read_report(report, log, finished)["results"]

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(targets)) as pool:
        ran = list(pool.map(one, targets))
    wall_s = time.perf_counter() - started
    processes = [finished for finished, _ in ran]
    rows = {target.name: results for target, (_, results) in zip(targets, ran, strict=True)}
    return Ran(processes, wall_s, rows, [p.exit_code for p in processes], emu.stats())


# -- figures ---------------------------------------------------------------------------------------------


def span(rows: Sequence[Mapping[str, Any]]) -> tuple[float, float] | None:
    """(first DELETE submitted, last end seen) of a report's rows, Unix seconds; None if nothing was sent."""
    starts = [_unix(r["submitted_at"]) for r in rows if r.get("submitted_at")]
    ends = [_unix(r["ended_at"]) for r in rows if r.get("ended_at")]
    return (min(starts), max(ends)) if starts and ends else None


def user_figures(targets: Sequence[Target], ran: Ran, factor: float) -> dict[str, dict[str, Any]]:
    """Per user: its makespan (its first DELETE to the last end it sees, over all its targets), its
    server-side task time, utilization of its five slots, the start skew of its targets (their first DELETEs
    apart) and the utilization with that skew taken out (the longest span of one of its targets instead of
    the makespan), its high-water mark. Seconds as measured (scaled), except ``idle_slot_s_per_task`` (real)."""
    by_user: dict[str, list[tuple[float, float]]] = {}
    tasks: Counter[str] = Counter()
    for target in targets:
        tasks[target.user] += target.tasks
        target_span = span(ran.rows.get(target.name, []))
        if target_span is not None:
            by_user.setdefault(target.user, []).append(target_span)
    figures = {}
    for user, spans in by_user.items():
        served = ran.stats["users"].get(user, {})
        running_s = served.get("running_s", 0.0)
        makespan = max(end for _, end in spans) - min(start for start, _ in spans)
        aligned = max(end - start for start, end in spans)
        figures[user] = {
            "tasks": tasks[user],
            "makespan_s": round(makespan, 3),
            "running_s": round(running_s, 3),
            "utilization": round(running_s / (SLOTS * makespan), 4),
            "start_skew_s": round(max(s for s, _ in spans) - min(s for s, _ in spans), 3),
            "utilization_unskewed": round(running_s / (SLOTS * aligned), 4),
            "idle_slot_s_per_task": round((SLOTS * makespan - running_s) / tasks[user] / factor, 2),
            "max_outstanding": served.get("max_outstanding"),
        }
    return figures


def run_figures(targets: Sequence[Target], ran: Ran, factor: float) -> dict[str, Any]:
    """The figures of one measurement: per user, then over users and processes."""
    users = user_figures(targets, ran, factor)
    tasks = sum(t.tasks for t in targets)
    requests = sum(ran.stats["requests_by_route"].values())
    counts: Counter[str] = Counter(r["outcome"] for rows in ran.rows.values() for r in rows)

    def over_users(key: str) -> tuple[float, float]:
        values = [figures[key] for figures in users.values()]
        return min(values), round(statistics.median(values), 4)

    return {
        "users": len(users),
        "targets": len(targets),
        "tasks": tasks,
        "processes": len(ran.processes),
        "utilization_min": over_users("utilization")[0],
        "utilization_median": over_users("utilization")[1],
        "utilization_unskewed_min": over_users("utilization_unskewed")[0],
        "utilization_unskewed_median": over_users("utilization_unskewed")[1],
        "start_skew_s_max": max(f["start_skew_s"] for f in users.values()),
        "makespan_s_median": over_users("makespan_s")[1],
        "requests_per_task": round(requests / tasks, 3),
        "max_outstanding": max(f["max_outstanding"] or 0 for f in users.values()),
        "cpu_ms_per_task": round(sum(p.cpu_s for p in ran.processes) * 1000 / tasks, 3),
        "peak_rss_mb": round(max(p.max_rss_mb for p in ran.processes), 1),
        "peak_rss_mb_summed": round(sum(p.max_rss_mb for p in ran.processes), 1),
        "wall_s": round(ran.wall_s, 2),
        "emulator_cpu_s": round(ran.stats["cpu_s"], 2),
        "exit_codes": dict(Counter(str(code) for code in ran.exit_codes)),
        "counts": dict(counts),
        "requests_by_route": ran.stats["requests_by_route"],
        "per_user": users,
    }


# -- the measurements ------------------------------------------------------------------------------------


FLEET_ROWS = ("users", "targets", "tasks", "processes", "utilization_min", "utilization_median",
              "utilization_unskewed_min", "utilization_unskewed_median", "start_skew_s_max", "makespan_s_median",
              "requests_per_task", "max_outstanding", "cpu_ms_per_task", "peak_rss_mb", "peak_rss_mb_summed",
              "wall_s", "emulator_cpu_s")


def measure_split(workdir: Path, sizes: FleetSizes) -> dict[str, Any]:
    """The fleet in one ``fleet`` process, then as one ``delete`` process per target with a fixed split."""
    targets = fleet_targets(workdir, sizes)
    factor = sizes.time_factor
    runs = {}
    with fleet_emulator(targets, factor) as emu:
        runs["fleet"] = run_figures(targets, run_fleet(workdir, emu, targets, factor), factor)
    with fleet_emulator(targets, factor) as emu:  # fresh, with the same seed: the same durations per project
        split = run_deletes(workdir, emu, targets, factor, concurrency=SLOTS // len(SERVICE_MIX))
        runs["split"] = run_figures(targets, split, factor)
    table = [[key, runs["fleet"][key], runs["split"][key], FLEET_TARGETS.get(key, "")] for key in FLEET_ROWS]
    table += [[key, _routes(runs["fleet"][key]), _routes(runs["split"][key]), ""] for key in ("exit_codes", "counts")]
    notes = [
        f"{sizes.users} users x {len(SERVICE_MIX)} targets ({', '.join(SERVICE_MIX)}, over the regions "
        f"{' and '.join(REGIONS)}) of {'/'.join(map(str, sizes.target_tasks))} deletions each (turned by one per "
        f"user); server-side durations uniform in {REAL_DURATION_S[0]:g}-{REAL_DURATION_S[1]:g} s, times "
        f"{factor:g}; the worker's time settings ({', '.join(SCALED_SETTINGS)}) at their defaults times {factor:g}",
        "fleet: ONE `python -m worker fleet FLEET_FILE` process, one pool of 5 slots per user over its 5 targets; "
        "split: one `python -m worker delete PLAN --concurrency 1` process per target, all started at once "
        "(a fixed split of each user's 5 slots)",
        "utilization, per user = its server-side task time / (5 x its makespan: its first DELETE -> the last end "
        "it sees, from the reports); min and median over the users",
        "unskewed: the same with each user's targets as if started at one instant (the longest span of one of "
        "its targets instead of the makespan); start_skew_s_max: the most a user's targets' first DELETEs lie "
        "apart (process start-up, at scaled time)",
        "max_outstanding: the most deletions of one user waiting or running at once over all its targets (the "
        "shared task board's high-water mark); requests_per_task: all requests the emulator received / tasks",
        "cpu_ms_per_task: user + sys of every worker process (start-up included) / tasks; peak_rss_mb: the "
        "largest process's, peak_rss_mb_summed: the processes' peaks added up",
    ]
    print_table(f"fleet: one pool per user against a fixed split (time factor {factor:g})",
                ["figure", "fleet (1 process)", f"split ({runs['split']['processes']} processes)", "target"],
                table, notes)
    return runs


def measure_conservation(workdir: Path, sizes: FleetSizes) -> dict[str, Any]:
    """The issue's work conservation check: ``wc-a``'s three targets in a fleet (with ``wc-b`` beside it) against
    the same number of deletions in one target run alone."""
    fleet, alone = conservation_targets(workdir, sizes.conservation_tasks)
    factor = sizes.conservation_factor
    with fleet_emulator(fleet, factor, seed=2) as emu:
        in_fleet = run_figures(fleet, run_fleet(workdir, emu, fleet, factor), factor)
    with fleet_emulator([alone], factor, seed=3) as emu:
        by_itself = run_figures([alone], run_deletes(workdir, emu, [alone], factor, concurrency=SLOTS), factor)
    a, b, one = in_fleet["per_user"]["wc-a"], in_fleet["per_user"]["wc-b"], by_itself["per_user"]["wc-alone"]
    figures = {
        "conservation_ratio": round(a["makespan_s"] / one["makespan_s"], 4),
        "conservation_utilization_ratio": round(one["utilization"] / a["utilization"], 4),
        "conservation_max_outstanding": a["max_outstanding"],
        "fleet_user": a, "second_user": b, "alone": one,
        "exit_codes": {"fleet": in_fleet["exit_codes"], "alone": by_itself["exit_codes"]},
        "counts": {"fleet": in_fleet["counts"], "alone": by_itself["counts"]},
        "time_factor": factor,
    }
    rows = ("tasks", "makespan_s", "running_s", "utilization", "idle_slot_s_per_task", "max_outstanding")
    table = [[key, a[key], one[key], b[key], FLEET_TARGETS.get(key, "")] for key in rows]
    table += [["exit_codes", _routes(in_fleet["exit_codes"]), _routes(by_itself["exit_codes"]), "", ""],
              ["makespan ratio (wc-a / alone)", figures["conservation_ratio"], "", "",
               FLEET_TARGETS["conservation_ratio"]],
              ["utilization ratio (alone / wc-a)", figures["conservation_utilization_ratio"], "", "", ""]]
    n = sizes.conservation_tasks
    notes = [
        f"fleet: ONE fleet process; user wc-a: two CSBS targets (eu-de, eu-nl) and one CBR target (eu-de) of {n} "
        f"deletions each, one pool of 5 slots; user wc-b: one CSBS target of {n} (eu-de, the same site as wc-a's "
        "first), in parallel",
        f"alone: ONE `python -m worker delete` process (5 slots) of {3 * n} CSBS deletions",
        f"server-side durations uniform in {REAL_DURATION_S[0]:g}-{REAL_DURATION_S[1]:g} s, times {factor:g}, "
        "drawn apart in each run: the utilization ratio takes out what the drawn durations add",
        "makespan: the user's first DELETE -> the last end it sees; running_s: its server-side task time",
    ]
    print_table(f"fleet: work conservation (time factor {factor:g})",
                ["figure", "fleet: wc-a (3 targets)", "alone (1 target)", "fleet: wc-b", "target"], table, notes)
    return figures


def measure_fleet(workdir: Path, quick: bool) -> dict[str, Any]:
    """The ``fleet`` scenario: both measurements, their tables and one JSON line."""
    sizes = QUICK if quick else FULL
    (workdir / "split").mkdir()
    (workdir / "conservation").mkdir()
    runs = measure_split(workdir / "split", sizes)
    conservation = measure_conservation(workdir / "conservation", sizes)
    figures = {
        "fleet_utilization_min": runs["fleet"]["utilization_min"],
        "fleet_utilization_median": runs["fleet"]["utilization_median"],
        "split_utilization_min": runs["split"]["utilization_min"],
        "split_utilization_median": runs["split"]["utilization_median"],
        "split_utilization_unskewed_median": runs["split"]["utilization_unskewed_median"],
        "fleet_requests_per_task": runs["fleet"]["requests_per_task"],
        "split_requests_per_task": runs["split"]["requests_per_task"],
        "fleet_max_outstanding": runs["fleet"]["max_outstanding"],
        "split_max_outstanding": runs["split"]["max_outstanding"],
        "fleet_cpu_ms_per_task": runs["fleet"]["cpu_ms_per_task"],
        "split_cpu_ms_per_task": runs["split"]["cpu_ms_per_task"],
        "fleet_peak_rss_mb": runs["fleet"]["peak_rss_mb"],
        "split_peak_rss_mb_summed": runs["split"]["peak_rss_mb_summed"],
        "conservation_ratio": conservation["conservation_ratio"],
        "conservation_utilization_ratio": conservation["conservation_utilization_ratio"],
        "conservation_max_outstanding": conservation["conservation_max_outstanding"],
        "time_factor": sizes.time_factor,
        "fleet": runs["fleet"], "split": runs["split"], "conservation": conservation,
    }
    emit("fleet", figures)
    return figures
