"""Benchmarks of csbs-worker: how well it keeps the provider's five deletion slots busy, and at what cost.

Usage::

    python bench/run.py --quick          # a shortened run of every scenario (about 7 minutes)
    python bench/run.py                  # every scenario in full
    python bench/run.py utilization      # one scenario in full (utilization, overhead, plan_scale, faults,
                                         #   short, no_progress, busy, fleet, approval)
    python bench/run.py --quick faults   # one scenario, shortened

Each scenario starts the CSBS (or CBR) emulator in its own process on loopback (``bench/emulator_proc.py``)
and runs the worker as users run it: ``python -m worker delete PLAN`` with the endpoint, project and token
(and ``CSBS_SERVICE=cbr`` for CBR) in the environment. Each prints a table and one JSON line of its
figures; a run of several scenarios ends with one JSON line of the headline figures.

Scenarios:

``utilization``
    Deletions whose server-side durations are drawn uniformly from 30-300 s, every time (durations and
    the worker's poll, retry and timeout settings alike) multiplied by one time factor so that the run
    is short. ``utilization`` = server-side task time / (5 x makespan); ``requests_per_task`` = requests
    the emulator received / tasks. The same figures for a baseline that deletes one backup at a time
    and polls like Terraform (``bench/baseline.py``), run on a subset of the same kind of plan, and for
    the worker with ``--service cbr`` against the CBR emulator (a plain-text plan of backup ids, each a
    server backup with one disk child): ``cbr_utilization``, ``cbr_requests_per_task``.
``overhead``
    Deletions that end at once (duration 0): tasks per second, the worker process's CPU milliseconds per
    task (user + sys) and its peak RSS, beside the baseline loop without waits (the floor of a minimal
    blocking client).
``plan_scale``
    Plain-text plans of per-backup entries through ``delete --dry-run`` (stdout to /dev/null): seconds and
    peak RSS of the worker process, beside a process that only reads the lines. Then the planner:
    ``python -m worker plan --policy P`` against an emulator seeded with 100,000 backups over 2,000
    servers (and 1,000,000 in the full run), once for CSBS and once for CBR (``planner_100k_csbs_s``,
    ``planner_100k_cbr_cpu_s``, ``planner_1m_csbs_rss_mb``, ...). Targets at 100,000: 5 s of the planner's
    CPU, 300 MB of its peak RSS.
``faults``
    ``utilization`` with 10 % of all requests answered 500 and 5 % answered 429 (and, in the full run, a
    variant whose 429s carry ``Retry-After``), beside the baseline under the same faults.
``short``
    ``utilization``'s figures for deletions of exactly 1 s, then for deletions uniform in 1-10 s (CSBS, CBR,
    and the baseline on the same durations), scaled by ``SHORT_TIME_FACTOR`` (0.05: 1 s is 50 ms, about 50
    loopback round trips, so the round trips do not decide the figures). Target: utilization >= 0.80 for 1 s.
``no_progress``
    The same for deletions uniform in 5-40 s from a service that reports no progress (the emulator's
    ``progress_reported: false``: ``extend_info.progress`` stays 0 until the backup is gone), scaled by
    ``NO_PROGRESS_TIME_FACTOR`` (0.01: 5 s is 50 ms). Target: utilization >= 0.90.
``busy``
    ``utilization``'s 30-300 s deletions from a service that answers the first two DELETEs of each backup
    busy and starts nothing (``busy_first_deletes: 2``: CSBS 400 CSBS.2003, CBR 400 BackupService.6216),
    scaled by ``Sizes.busy_time_factor``. Besides the usual figures: ``busy_answers`` (those answers, counted
    by the emulator) and ``requests_per_task_net`` (requests per task without them). Targets: utilization
    >= 0.96 and ``requests_per_task_net`` <= 4.
``fleet``
    In its own module, ``bench/fleet.py`` (which explains it): 20 users x 5 targets (CSBS and CBR, two regions)
    of 40-160 deletions of 30-300 s each (``--quick``: 4 users, 8-32 deletions), against one emulator process
    serving the whole fleet on one per-user task board (``bench/fleet_emulator_proc.py``), run as ONE
    ``python -m worker fleet FLEET_FILE`` process, then as one ``delete --concurrency 1`` process per target
    (a fixed split of each user's five slots): each user pool's utilization (min and median over users),
    requests per task, the most deletions of one user outstanding at once (<= 5), CPU per task and peak RSS.
    Then work conservation: one user's two CSBS and one CBR targets in a fleet (a second user beside it)
    against the same deletions in one target alone: makespan ratio <= 1.10.

``approval``
    What an approvable plan costs: a project of 1,000 backups over 30 servers (``--quick``: 400 over 12)
    planned with ``plan_scale``'s
    policy and deleted (``utilization``'s durations and time factor), per service once from a plain plan and
    once from ``plan --approvable`` run with ``--expect-digest``: ``requests_per_task`` of the delete runs
    (``approval_csbs_approvable_requests_per_task``, ...). Target: <= 4 like every run.

Every time factor is printed with its table and is ``time_factor`` in its JSON line. Each run of the
slot scenarios reports what ``measure_worker_slots`` gives: utilization, requests_per_task, idle and tail
idle slot time per task, max_outstanding, requests_by_route, the exit code and the report's counts.

Processes are measured by ``bench/measure.py`` (``os.wait4``; it explains why a launcher). For pacing ideas,
``bench/pacer_sim.py`` simulates the poll schedule alone in a second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from worker.plan.approval import written_digest
from worker.settings import SETTINGS

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ID = "0123456789abcdef0123456789abcdef"
TOKEN = "bench-token"
SLOTS = 5  # the provider's deletion tasks per user
REAL_DURATION_S = (30.0, 300.0)  # server-side time of one deletion, before scaling
# The worker's time settings scaled with the durations. Not scaled: request_timeout (a network limit, and
# loopback answers take ~1 ms either way), grace and deadline (no stop happens).
SCALED_SETTINGS = ("poll_first", "poll_min", "poll_max", "lag_window", "retry_base", "retry_cap", "task_timeout",
                   "progress_interval")

TARGETS = {
    "utilization": ">= 0.96",
    "requests_per_task": "<= 4",  # everywhere; in ``busy``, not counting the answers it forces busy
    "tasks_per_s": ">= 1000",
    "cpu_ms_per_task": "<= 0.5",
    "plan_1m_s": "<= 30",
    "plan_1m_rss_mb": "<= 300",
    "planner_100k_cpu_s": "<= 5",  # each service, the planner process's own CPU (user + sys)
    "planner_100k_rss_mb": "<= 300",
    "faults_utilization": ">= 0.90",
    "max_outstanding": "<= 5",  # the emulator's high-water mark of tasks queued or running for the user
    "short_1s_utilization": ">= 0.80",
    "no_progress_utilization": ">= 0.90",
    "busy_utilization": ">= 0.96",
}
# Time factors of the scenarios of short deletions: the shortest deletion stays about 50 loopback round trips
# (~1 ms each) long, so that the round trips do not decide the figures.
SHORT_TIME_FACTOR = 0.05  # 1 s -> 50 ms
NO_PROGRESS_TIME_FACTOR = 0.01  # 5 s -> 50 ms


@dataclass(frozen=True)
class Load:
    """What one measurement of the slots runs: ``tasks`` deletions (the baseline: ``baseline_tasks``) whose
    server-side durations are uniform in ``duration_s`` (real seconds), scaled by ``time_factor`` like the
    worker's time settings, against a service with the scenario keys ``switches``."""

    tasks: int
    baseline_tasks: int
    time_factor: float
    duration_s: tuple[float, float] = REAL_DURATION_S
    switches: Mapping[str, Any] = field(default_factory=dict)

    def scaled_durations(self) -> tuple[float, float]:
        return self.duration_s[0] * self.time_factor, self.duration_s[1] * self.time_factor

    def about(self) -> str:
        """The durations and the switches, in words."""
        low, high = self.duration_s
        words = [f"server-side durations of {low:g} s" if low == high else
                 f"server-side durations uniform in {low:g}-{high:g} s"]
        if self.switches.get("progress_reported") is False:
            words.append("no progress reported (progress_reported: false)")
        if self.switches.get("busy_first_deletes"):
            n = self.switches["busy_first_deletes"]
            words.append(f"the first {n} DELETEs of each backup answered busy (busy_first_deletes: {n})")
        return ", ".join(words)


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is; ``FULL`` as the issue asks, ``QUICK`` to run everything in about 7 minutes."""

    tasks: int  # utilization, faults and busy
    time_factor: float  # multiplies every real-world duration (tasks, polls, retries, timeouts) of the first two
    baseline_tasks: int  # the one-at-a-time baseline takes ~5x longer per task: a subset is enough
    overhead_tasks: int
    baseline_overhead_tasks: int
    plan_entries: tuple[int, ...]
    retry_after_variant: bool  # faults: also run the variant whose 429s carry Retry-After
    planner_backups: tuple[int, ...]  # plan_scale: backups in the projects `plan --policy` lists (CSBS and CBR)
    busy_time_factor: float  # busy's time_factor (30 s stays 60 ms or more)
    short_tasks: int  # short (each of its two runs)
    no_progress_tasks: int
    planner_servers: int = 2000  # ... spread over this many servers (resource ids)
    approval_backups: int = 1000  # approval: the project `plan --policy` plans from (PLANNER_POLICY) ...
    approval_servers: int = 30  # ... over this many servers

    def load(self) -> Load:
        """Deletions of 30-300 s: ``tasks`` of them, times ``time_factor``."""
        return Load(self.tasks, self.baseline_tasks, self.time_factor)


FULL = Sizes(tasks=300, time_factor=0.005, baseline_tasks=40, overhead_tasks=20_000, baseline_overhead_tasks=2_000,
             plan_entries=(100_000, 1_000_000), retry_after_variant=True, planner_backups=(100_000, 1_000_000),
             busy_time_factor=0.005, short_tasks=400, no_progress_tasks=300)
# The end-of-plan tail (slots idle after the last task was taken) depends on which durations come last, so
# utilization moves by about 1 point with the emulator's seed (full size, seeds 1-3: 0.963, 0.974, 0.977),
# and the quick run's 200 tasks may read higher or lower than the full run's 300. To keep --quick at about
# 4 minutes, short and no_progress run 150 tasks there (their tails stay small: their last tasks are short),
# and busy scales by 0.002 (30 s is 60 ms) instead of 0.003.
QUICK = Sizes(tasks=200, time_factor=0.003, baseline_tasks=12, overhead_tasks=10_000, baseline_overhead_tasks=1_000,
              plan_entries=(100_000, 1_000_000), retry_after_variant=False, planner_backups=(100_000,),
              busy_time_factor=0.002, short_tasks=150, no_progress_tasks=150, approval_backups=400,
              approval_servers=12)


# -- plans -----------------------------------------------------------------------------------------------


def fake_uuid(rng: random.Random) -> str:
    """A random id in the canonical 8-4-4-4-12 form (cheaper than uuid.uuid4 for a million lines)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def write_plan(path: Path, entries: int, seed: int = 7) -> Path:
    """A plain-text plan of ``entries`` per-backup lines (``CHECKPOINT_ID ITEM_ID``), 1-3 backups a record."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as plan:
        written = 0
        while written < entries:
            checkpoint_id = fake_uuid(rng)
            for _ in range(min(rng.randint(1, 3), entries - written)):
                plan.write(f"{checkpoint_id} {fake_uuid(rng)}\n")
                written += 1
    return path


def write_cbr_plan(path: Path, entries: int, seed: int = 7) -> Path:
    """A plain-text CBR plan: ``entries`` backup ids, one per line."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as plan:
        plan.writelines(f"{fake_uuid(rng)}\n" for _ in range(entries))
    return path


PLANNER_POLICY = """\
# bench/run.py plan_scale: the same policy for CSBS and CBR (one history per server, resource_id)
keep:
  last: 3
  daily: 7
  weekly: 4
  monthly: 6
min_keep: 1
"""


PLAN_WRITERS = dict(csbs=write_plan, cbr=write_cbr_plan)
"""How each service's plan of ``entries`` backups is written."""


# -- processes -------------------------------------------------------------------------------------------


@dataclass
class Finished:
    """A process that ran to its end, with its own resource usage (``os.wait4`` in ``bench/measure.py``)."""

    exit_code: int
    wall_s: float
    cpu_s: float  # user + sys
    max_rss_mb: float


def run_process(argv: Sequence[str], env: dict[str, str], stdout: Path | None = None,
                stderr: Path | None = None) -> Finished:
    """Run ``argv`` to its end through ``bench/measure.py`` (see there why); stdout and stderr go to the given
    files (or /dev/null)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result, contextlib.ExitStack() as files:
        out = files.enter_context(stdout.open("wb")) if stdout else subprocess.DEVNULL
        err = files.enter_context(stderr.open("wb")) if stderr else subprocess.DEVNULL
        launcher = [sys.executable, "-I", "-S", str(BENCH_DIR / "measure.py"), result.name, *argv]
        subprocess.run(launcher, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, check=True)
        measured = json.loads(Path(result.name).read_text())
    return Finished(measured["exit_code"], measured["wall_s"], measured["cpu_s"], measured["max_rss_kb"] / 1024)


@dataclass
class EmulatorProcess:
    """A running ``bench/emulator_proc.py``: where the API listens and where its counters are read."""

    endpoint: str
    control: str
    process: subprocess.Popen[bytes]
    service: str = "csbs"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.control}/stats", timeout=30) as answer:
            stats: dict[str, Any] = json.load(answer)
        return stats

    def env(self) -> dict[str, str]:
        """The worker's environment: this emulator, and no other sign-in method that could clash."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("CSBS_", "HUAWEICLOUD_"))}
        return {**clean, "CSBS_SERVICE": self.service, "CSBS_ENDPOINT": self.endpoint, "CSBS_PROJECT_ID": PROJECT_ID,
                "CSBS_AUTH_TOKEN": TOKEN}


@contextlib.contextmanager
def emulator(plan: Path | None, duration_s: tuple[float, float] = (0.0, 0.0),
             faults: Sequence[dict[str, Any]] = (), seed: int = 1, service: str = "csbs", random_backups: int = 0,
             servers: int = 12, scenario: Mapping[str, Any] | None = None) -> Iterator[EmulatorProcess]:
    """Start an emulator process of ``service`` seeded with the plan's backups (and ``random_backups`` over
    ``servers`` servers), its scenario with the keys ``scenario`` besides; stop it on leaving."""
    config = {"project_id": PROJECT_ID, "token": TOKEN, "delete_duration_s": list(duration_s),
              "faults": list(faults), "seed": seed, "plan": str(plan) if plan else None,
              "random_backups": random_backups, "servers": servers, "scenario": dict(scenario or {})}
    argv = [sys.executable, str(BENCH_DIR / "emulator_proc.py"), "--service", service, json.dumps(config)]
    with listening_process(argv, "the emulator process") as (process, urls):
        yield EmulatorProcess(urls["endpoint"], urls["control"], process, service)


@contextlib.contextmanager
def listening_process(argv: Sequence[str], what: str,
                      cwd: Path | None = None) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """Start a server process that prints one JSON line once it listens (its URLs); yield the process and that
    line, and stop the process on leaving (killed if it does not end within 10 s)."""
    process = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"{what} ended before it listened")
        yield process, json.loads(line)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the worker ------------------------------------------------------------------------------------------


@dataclass
class WorkerRun:
    """One ``python -m worker delete`` run: its process figures, report and run_summary event."""

    process: Finished
    report: dict[str, Any] | None
    summary: dict[str, Any] | None
    argv: list[str] = field(default_factory=list)

    def makespan(self) -> tuple[float, float]:
        """(first DELETE submitted, last end seen), Unix seconds, from the report."""
        starts, ends = self._times()
        return min(starts), max(ends)

    def tail_idle_s(self) -> float:
        """Slot time left idle because the plan ran out: after the last task was taken, each slot whose
        task ended waits for the slowest of the last tasks. Inherent to any order the worker cannot foresee."""
        starts, ends = self._times()
        last_taken, last_end = max(starts), max(ends)
        return sum(last_end - end for end in ends if end > last_taken)

    def _times(self) -> tuple[list[float], list[float]]:
        assert self.report is not None
        results = self.report["results"]
        starts = [_unix(r["submitted_at"]) for r in results if r["submitted_at"]]
        ends = [_unix(r["ended_at"]) for r in results if r["ended_at"]]
        return starts, ends


def _unix(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def scaled_flags(factor: float) -> list[str]:
    """Every time setting of the worker at its default (read from worker.settings), times ``factor``."""
    flags: list[str] = []
    for spec in SETTINGS:
        if spec.key in SCALED_SETTINGS:
            flags += [spec.flag, f"{spec.default * factor:g}"]
    # The emulator has no rate limit; the worker's own (10/s by default) would measure itself, not the slots.
    return [*flags, "--max-rps", "100000"]


def run_worker(emu: EmulatorProcess, plan: Path, flags: Sequence[str], workdir: Path,
               dry_run: bool = False) -> WorkerRun:
    """Run the worker on ``plan`` against ``emu`` as a user would, JSON logs and report into ``workdir``."""
    report_path, log_path = workdir / "report.json", workdir / "worker.log"
    argv = [sys.executable, "-m", "worker", "delete", str(plan), "--log-format", "json", *flags]
    argv += ["--dry-run"] if dry_run else ["--report", str(report_path)]
    finished = run_process(argv, emu.env(), stderr=log_path)
    report = json.loads(report_path.read_text()) if report_path.exists() and not dry_run else None
    return WorkerRun(finished, report, _run_summary(log_path), argv)


def _run_summary(log_path: Path) -> dict[str, Any] | None:
    """The run_summary event of a JSON log (the last one, should there be several)."""
    summary = None
    with log_path.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            if '"run_summary"' in line:
                summary = json.loads(line)
    return summary


def _check_clean(run: WorkerRun, what: str) -> None:
    """Say loudly when the worker did not end every task well: its figures would not mean much."""
    if run.process.exit_code != 0:
        counts = run.report["counts"] if run.report else None
        print(f"!! {what}: the worker exited {run.process.exit_code} (counts {counts})", file=sys.stderr)


# -- figures and tables ----------------------------------------------------------------------------------


def slot_figures(stats: dict[str, Any], span_s: float, tasks: int, factor: float) -> dict[str, Any]:
    """From the emulator's ``stats``: utilization of the five slots over ``span_s``, requests per task, the
    DELETEs answered busy by ``busy_first_deletes`` and the requests per task without them, and the idle
    slot time per task in real (unscaled) seconds."""
    busy_s = stats["task_running_seconds"]
    requests = sum(stats["requests_by_route"].values())
    forced = stats["faults_by_kind"].get("busy-first", 0)
    return {
        "utilization": round(busy_s / (SLOTS * span_s), 4),
        "requests_per_task": round(requests / tasks, 3),
        "busy_answers": forced,
        "requests_per_task_net": round((requests - forced) / tasks, 3),
        "idle_slot_s_per_task": round((SLOTS * span_s - busy_s) / tasks / factor, 2),
    }


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], notes: Sequence[str] = ()) -> None:
    """A plain aligned table, then its notes."""
    cells = [[str(c) for c in header], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n== {title}")
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for note in notes:
        print(f"  * {note}")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "" if value is None else str(value)


def _routes(counts: dict[str, int]) -> str:
    return " ".join(f"{route}={n}" for route, n in sorted(counts.items()))


def emit(scenario: str, figures: dict[str, Any]) -> None:
    """The scenario's one JSON line."""
    print(json.dumps({"scenario": scenario, **figures}), flush=True)


# -- measurements ----------------------------------------------------------------------------------------


SERVICES = tuple(PLAN_WRITERS)
"""The services the worker is measured against, each with its own emulator."""


def measure_worker_slots(workdir: Path, load: Load, faults: Sequence[dict[str, Any]] = (),
                         service: str = "csbs") -> dict[str, Any]:
    """Run the worker on ``load`` against ``service``; its slot figures."""
    factor = load.time_factor
    plan = PLAN_WRITERS[service](workdir / "plan.txt", load.tasks)
    with emulator(plan, load.scaled_durations(), faults, service=service, scenario=load.switches) as emu:
        run = run_worker(emu, plan, scaled_flags(factor), workdir)
        stats = emu.stats()
    _check_clean(run, f"worker ({service})")
    first, last = run.makespan()
    figures = slot_figures(stats, last - first, load.tasks, factor)
    return {
        **figures,
        "tail_idle_s_per_task": round(run.tail_idle_s() / load.tasks / factor, 2),
        "tasks": load.tasks,
        "makespan_s": round(last - first, 3),
        "server_busy_s": round(stats["task_running_seconds"], 3),
        "server_span_s": round(stats["last_task_end"] - stats["first_task_start"], 3),
        "process_wall_s": round(run.process.wall_s, 3),
        "max_outstanding": max(stats["max_outstanding"].values()),
        "requests_by_route": stats["requests_by_route"],
        "faults_by_kind": stats["faults_by_kind"],
        "worker_calls": (run.summary or {}).get("calls"),
        "exit_code": run.process.exit_code,
        "counts": run.report["counts"] if run.report else None,
    }


def run_baseline(workdir: Path, tasks: int, factor: float, duration_s: tuple[float, float],
                 faults: Sequence[dict[str, Any]] = (),
                 scenario: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], Finished, dict[str, Any]]:
    """Run ``bench/baseline.py`` on ``tasks`` deletions; (its result line, its process, emulator stats)."""
    plan = write_plan(workdir / "baseline-plan.txt", tasks)
    out = workdir / "baseline.json"
    with emulator(plan, duration_s, faults, scenario=scenario) as emu:
        finished = run_process([sys.executable, str(BENCH_DIR / "baseline.py"), str(plan), f"{factor:g}"],
                               emu.env(), stdout=out)
        stats = emu.stats()
    if finished.exit_code != 0:
        raise RuntimeError(f"the baseline exited {finished.exit_code}")
    return json.loads(out.read_text()), finished, stats


def measure_baseline_slots(workdir: Path, load: Load, faults: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The one-at-a-time Terraform-like loop (CSBS) on ``load.baseline_tasks`` deletions; its slot figures."""
    factor = load.time_factor
    result, _, stats = run_baseline(workdir, load.baseline_tasks, factor, load.scaled_durations(), faults,
                                    load.switches)
    span = result["last_end"] - result["first_submit"]
    figures = slot_figures(stats, span, result["tasks"], factor)
    return {**figures, "tail_idle_s_per_task": 0.0, "tasks": result["tasks"], "makespan_s": round(span, 3),
            "max_outstanding": max(stats["max_outstanding"].values()), "requests_by_route": stats["requests_by_route"],
            "faults_by_kind": stats["faults_by_kind"]}


def measure_slots(workdir: Path, load: Load) -> dict[str, dict[str, Any]]:
    """The worker against each service, then the baseline, on ``load``: their figures by service (and
    ``baseline``)."""
    runs = {service: measure_worker_slots(workdir, load, service=service) for service in SERVICES}
    runs["baseline"] = measure_baseline_slots(workdir, load)
    return runs


# -- scenarios -------------------------------------------------------------------------------------------


SLOT_ROWS = ("tasks", "makespan_s", "utilization", "requests_per_task", "idle_slot_s_per_task",
             "tail_idle_s_per_task", "max_outstanding")
BUSY_ROWS = (*SLOT_ROWS[:4], "busy_answers", "requests_per_task_net", *SLOT_ROWS[4:])
RUN_TITLES = {"csbs": "worker (CSBS)", "cbr": "worker (CBR)", "baseline": "baseline (1 at a time)"}
CBR_NOTE = ("worker (CBR): --service cbr against the CBR emulator, the same durations and settings; a plain-text "
            "plan of backup ids, each a server backup with one disk child (one task each); the baseline is CSBS")


def slot_notes(load: Load) -> list[str]:
    f = load.time_factor
    return [
        f"{load.about()}, times {f:g}; the worker's time settings ({', '.join(SCALED_SETTINGS)}) at their "
        f"defaults times {f:g}; the baseline's waits too",
        "makespan: first DELETE sent -> last end seen, from the worker's report (one clock; what the user waits "
        "for once deleting starts; start-up, plan reading and preflight excluded)",
        "utilization = server-side running time summed over tasks (emulator) / (5 x makespan); "
        "requests_per_task = requests the emulator received (preflight included) / tasks",
        "idle_slot_s_per_task: unused slot time per task in real (unscaled) seconds; tail_idle: the part after the "
        "last task was taken (slots with nothing left to do, inherent to a plan's end)",
        f"baseline: one backup at a time, Terraform's polling (bench/baseline.py), on {load.baseline_tasks} tasks "
        "(it needs ~5x the time per task)",
    ]


def print_slots(title: str, runs: Mapping[str, dict[str, Any]], targets: Mapping[str, str],
                rows: Sequence[str] = SLOT_ROWS, notes: Sequence[str] = ()) -> None:
    """The table of ``measure_slots``' runs: a row per figure, a column per run, the target last; then what
    the emulator received, and the worker's exit code and counts (the baseline stops at any failure)."""
    table = [[key, *(run.get(key) for run in runs.values()), targets.get(key, "")] for key in rows]
    table.append(["requests_by_route", *(_routes(run["requests_by_route"]) for run in runs.values()), ""])
    table.append(["exit_code", *(run.get("exit_code", "") for run in runs.values()), ""])
    table.append(["counts", *(_routes({k: n for k, n in (run.get("counts") or {}).items() if n})
                              for run in runs.values()), ""])
    print_table(title, ["figure", *(RUN_TITLES[who] for who in runs), "target"], table, notes)


def run_figures(prefix: str, runs: Mapping[str, dict[str, Any]],
                keys: Sequence[str] = ("utilization", "requests_per_task")) -> dict[str, Any]:
    """The headline figures of each run: ``{prefix}utilization``, ``{prefix}cbr_utilization``,
    ``{prefix}baseline_utilization``, and so on for each of ``keys``."""
    return {f"{prefix}{'' if who == 'csbs' else who + '_'}{key}": run[key]
            for who, run in runs.items() for key in keys}


def scenario_utilization(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """Slot utilization and requests per task of the worker (CSBS, then CBR), beside the one-at-a-time baseline."""
    load = sizes.load()
    runs = measure_slots(workdir, load)
    print_slots(f"utilization (time factor {load.time_factor:g})", runs, TARGETS, notes=[*slot_notes(load), CBR_NOTE])
    figures = {**run_figures("", runs), "time_factor": load.time_factor,
               "worker": runs["csbs"], "cbr": runs["cbr"], "baseline": runs["baseline"]}
    emit("utilization", figures)
    return figures


def scenario_short(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """Deletions of exactly 1 s, then uniform in 1-10 s: can the worker keep the slots busy when the next
    end is a second away?"""
    loads = {"1s": Load(sizes.short_tasks, sizes.baseline_tasks, SHORT_TIME_FACTOR, (1.0, 1.0)),
             "1_10s": Load(sizes.short_tasks, sizes.baseline_tasks, SHORT_TIME_FACTOR, (1.0, 10.0))}
    figures: dict[str, Any] = {"time_factor": SHORT_TIME_FACTOR}
    for name, load in loads.items():
        runs = measure_slots(workdir, load)
        targets = {**TARGETS, "utilization": TARGETS.get(f"short_{name}_utilization", "")}
        print_slots(f"short: {load.about()} (time factor {load.time_factor:g})", runs, targets,
                    notes=[*slot_notes(load), CBR_NOTE])
        figures.update({**run_figures(f"short_{name}_", runs), name: runs})
    emit("short", figures)
    return figures


def scenario_no_progress(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """Deletions uniform in 5-40 s from a service that reports no progress: the worker cannot estimate ends."""
    load = Load(sizes.no_progress_tasks, sizes.baseline_tasks, NO_PROGRESS_TIME_FACTOR, (5.0, 40.0),
                {"progress_reported": False})
    runs = measure_slots(workdir, load)
    targets = {**TARGETS, "utilization": TARGETS["no_progress_utilization"]}
    print_slots(f"no_progress (time factor {load.time_factor:g})", runs, targets,
                notes=[*slot_notes(load), CBR_NOTE])
    figures = {**run_figures("no_progress_", runs), "time_factor": load.time_factor, **runs}
    emit("no_progress", figures)
    return figures


def scenario_busy(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """``utilization``'s 30-300 s deletions, the first two DELETEs of each backup answered busy."""
    load = Load(sizes.tasks, sizes.baseline_tasks, sizes.busy_time_factor, switches={"busy_first_deletes": 2})
    runs = measure_slots(workdir, load)
    targets = {**TARGETS, "utilization": TARGETS["busy_utilization"], "requests_per_task": "",
               "requests_per_task_net": TARGETS["requests_per_task"]}
    notes = [*slot_notes(load)[:1],
             "busy_answers: DELETEs the emulator answered busy because of busy_first_deletes (CSBS: 400 CSBS.2003; "
             "CBR: 400 BackupService.6216); requests_per_task_net = (requests - busy_answers) / tasks",
             "the baseline sends a busy DELETE again after 1 s (scaled)", *slot_notes(load)[1:], CBR_NOTE]
    print_slots(f"busy (time factor {load.time_factor:g})", runs, targets, BUSY_ROWS, notes)
    figures = {**run_figures("busy_", runs, ("utilization", "requests_per_task", "requests_per_task_net")),
               "time_factor": load.time_factor, **runs}
    emit("busy", figures)
    return figures


def fault_variants(sizes: Sizes) -> dict[str, list[dict[str, Any]]]:
    """The fault rules of each variant (FaultRule keywords), by name."""
    variants = {"500@10% + 429@5%": [{"route": "*", "kind": "500", "rate": 0.10},
                                     {"route": "*", "kind": "429", "rate": 0.05}]}
    if sizes.retry_after_variant:
        variants["500@10% + 429-retry-after@5%"] = [
            {"route": "*", "kind": "500", "rate": 0.10},
            {"route": "*", "kind": "429-retry-after", "rate": 0.05, "retry_after_s": 1.0 * sizes.time_factor}]
    return variants


def scenario_faults(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """``utilization`` with 10 % 500s and 5 % 429s on every route (and a Retry-After variant in full)."""
    load = sizes.load()
    variants = fault_variants(sizes)
    results = {name: measure_worker_slots(workdir, load, rules) for name, rules in variants.items()}
    first_name, first_rules = next(iter(variants.items()))
    baseline = measure_baseline_slots(workdir, load, first_rules)
    rows = [[f"worker, {name}", r["utilization"], r["requests_per_task"], r["idle_slot_s_per_task"],
             r["max_outstanding"], _routes(r["faults_by_kind"]), r["exit_code"]] for name, r in results.items()]
    rows.append([f"baseline, {first_name}", baseline["utilization"], baseline["requests_per_task"],
                 baseline["idle_slot_s_per_task"], baseline["max_outstanding"], _routes(baseline["faults_by_kind"]), 0])
    notes = [f"target: worker utilization {TARGETS['faults_utilization']}; rates are per request, every route "
             "(preflight, DELETE, GET); 429-retry-after carries Retry-After: 1 s (scaled)",
             "the baseline sends a 429/5xx request again after 1 s (scaled)", *slot_notes(load)[:3]]
    print_table("faults", ["run", "utilization", "requests_per_task", "idle_slot_s_per_task", "max_outstanding",
                           "faults fired", "exit"], rows, notes)
    headline = results[first_name]
    figures = {"faults_utilization": headline["utilization"], "faults_requests_per_task": headline["requests_per_task"],
               "baseline_faults_utilization": baseline["utilization"], "variants": results, "baseline": baseline}
    emit("faults", figures)
    return figures


def scenario_overhead(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """Throughput and the worker's own CPU and memory when every deletion ends at once."""
    tasks = sizes.overhead_tasks
    plan = write_plan(workdir / "overhead-plan.txt", tasks)
    # Nothing to wait for: look at once, and retry fast should anything be refused.
    flags = ["--poll-first", "0", "--poll-min", "0.0001", "--poll-max", "0.01", "--retry-base", "0.001",
             "--max-rps", "100000"]
    with emulator(plan) as emu:
        run = run_worker(emu, plan, flags, workdir)
        stats = emu.stats()
    _check_clean(run, "overhead")
    first, last = run.makespan()
    worker = process_figures(tasks, run.process, last - first, stats)
    result, finished, base_stats = run_baseline(workdir, sizes.baseline_overhead_tasks, 0.0, (0.0, 0.0))
    baseline = process_figures(result["tasks"], finished, result["last_end"] - result["first_submit"], base_stats)
    rows = [[key, worker[key], baseline[key], TARGETS.get(key, "")] for key in worker]
    notes = ["deletions of duration 0 (the emulator ends each at once); worker: --poll-first 0 --poll-min 0.0001 "
             "(the floor of a learned first look: as good as none)",
             "tasks_per_s over first DELETE -> last end seen; tasks_per_s_wall over the whole process (start-up "
             "included); CPU = user + sys of the process (os.wait4), start-up included",
             f"baseline: bench/baseline.py without waits (DELETE, GET, one at a time, http.client) on "
             f"{baseline['tasks']:,} tasks: the cost floor of a minimal blocking client"]
    print_table("overhead", ["figure", "worker", "baseline (1 at a time)", "target"], rows, notes)
    figures = {**worker, "baseline": baseline}
    emit("overhead", figures)
    return figures


def process_figures(tasks: int, process: Finished, span_s: float, stats: dict[str, Any]) -> dict[str, Any]:
    """Throughput and process cost of one overhead run."""
    return {
        "tasks": tasks,
        "tasks_per_s": round(tasks / span_s, 1),
        "tasks_per_s_wall": round(tasks / process.wall_s, 1),
        "cpu_ms_per_task": round(process.cpu_s * 1000 / tasks, 4),
        "cpu_s": round(process.cpu_s, 3),
        "wall_s": round(process.wall_s, 3),
        "peak_rss_mb": round(process.max_rss_mb, 1),
        "requests_per_task": round(sum(stats["requests_by_route"].values()) / tasks, 3),
        "emulator_cpu_s": round(stats["cpu_s"], 3),
    }


FLOOR_SCRIPT = "import sys\nwith open(sys.argv[1], 'rb') as f:\n    n = sum(1 for line in f if line.split())\n"


def scenario_plan_scale(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """Seconds and peak RSS of ``delete --dry-run`` on big plain-text plans (one preflight call each)."""
    figures: dict[str, Any] = {}
    rows = []
    with emulator(None) as emu:
        for entries in sizes.plan_entries:
            plan = write_plan(workdir / f"plan-{entries}.txt", entries)
            run = run_worker(emu, plan, [], workdir, dry_run=True)
            _check_clean(run, f"plan_scale {entries}")
            floor = run_process([sys.executable, "-c", FLOOR_SCRIPT, str(plan)], emu.env())
            name = f"plan_{_size_name(entries)}"
            p = run.process
            figures.update({f"{name}_s": round(p.wall_s, 2), f"{name}_rss_mb": round(p.max_rss_mb, 1),
                            f"{name}_cpu_s": round(p.cpu_s, 2), f"{name}_floor_s": round(floor.wall_s, 2)})
            rows.append([f"{entries:,}", p.wall_s, p.cpu_s, p.max_rss_mb, floor.wall_s, floor.max_rss_mb,
                         f"{plan.stat().st_size / 2**20:.0f} MB", p.exit_code])
            plan.unlink()
    notes = [f"target: 1,000,000 entries in {TARGETS['plan_1m_s']} s and {TARGETS['plan_1m_rss_mb']} MB",
             "`python -m worker delete PLAN --dry-run`, stdout to /dev/null; the plan: CHECKPOINT_ID ITEM_ID "
             "lines, 1-3 backups per record; seconds = the whole process (start-up and one preflight call included)",
             "floor: a Python process that only reads and splits the lines (no checks, no output)"]
    print_table("plan_scale", ["entries", "seconds", "cpu_s", "peak_rss_mb", "floor_s", "floor_rss_mb", "plan file",
                               "exit"], rows, notes)
    figures.update(measure_planner(workdir, sizes))
    emit("plan_scale", figures)
    return figures


def measure_planner(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """``plan --policy`` over projects of ``sizes.planner_backups`` backups, CSBS and CBR: the whole process's
    seconds, CPU and peak RSS, and what the emulator spent answering the listing."""
    policy = workdir / "policy.yaml"
    policy.write_text(PLANNER_POLICY, encoding="utf-8")
    figures: dict[str, Any] = {}
    rows = []
    for backups in sizes.planner_backups:
        for service in ("csbs", "cbr"):
            name = f"planner_{_size_name(backups)}_{service}"
            run = plan_project(workdir, policy, service, backups, sizes.planner_servers)
            figures.update({f"{name}_{key}": value for key, value in run.items() if key != "exit"})
            rows.append([service, f"{backups:,}", run["s"], run["cpu_s"], run["rss_mb"], run["emulator_cpu_s"],
                         run["requests"], run["deletions"], run["exit"]])
    notes = [f"target at 100,000 backups, each service: the planner's CPU {TARGETS['planner_100k_cpu_s']} s, its "
             f"peak RSS {TARGETS['planner_100k_rss_mb']} MB",
             "`python -m worker plan --policy P --max-rps 100000` against an emulator seeded (before it listens) "
             f"with that many backups over {sizes.planner_servers:,} servers, created over 180 days; policy: keep "
             "last 3, daily 7, weekly 4, monthly 6, min_keep 1, one history per resource_id; the plan to a file",
             "CSBS: records of 1-3 backups, every page listed (1,000 a page) between two counts; CBR: server backups "
             "without disk children, 3/4 automatic in a policy-named vault, the rest in `default`, the vaults then "
             "every page",
             "seconds = the whole planner process (start-up included); cpu_s and peak_rss_mb = the planner "
             "process's own; emulator_cpu_s = what the emulator spent answering it, part of those seconds",
             "at the default --max-rps 10, paging adds at least pages / 10 seconds"]
    print_table("plan_scale: the planner", ["service", "backups", "seconds", "cpu_s", "peak_rss_mb",
                                            "emulator_cpu_s", "requests", "deletions planned", "exit"], rows, notes)
    return figures


def plan_project(workdir: Path, policy: Path, service: str, backups: int, servers: int) -> dict[str, Any]:
    """One ``plan --policy`` run against a fresh emulator of ``service`` holding ``backups`` backups."""
    with emulator(None, service=service, random_backups=backups, servers=servers) as emu:
        before = emu.stats()
        out, log = workdir / f"planned-{service}.txt", workdir / f"planner-{service}.log"
        argv = [sys.executable, "-m", "worker", "plan", "--policy", str(policy), "--log-format", "json",
                "--max-rps", "100000"]
        p = run_process(argv, emu.env(), stdout=out, stderr=log)
        after = emu.stats()
    if p.exit_code != 0:
        print(f"!! planner ({service}): exited {p.exit_code}; its log: {log.read_text()[-2000:]}", file=sys.stderr)
    ready = _log_event(log, "plan_ready") or {}
    out.unlink()
    return {"s": round(p.wall_s, 2), "rss_mb": round(p.max_rss_mb, 1), "cpu_s": round(p.cpu_s, 2),
            "emulator_cpu_s": round(after["cpu_s"] - before["cpu_s"], 2), "deletions": ready.get("deletions"),
            "requests": sum(after["requests_by_route"].values()) - sum(before["requests_by_route"].values()),
            "exit": p.exit_code}


def _size_name(count: int) -> str:
    return f"{count // 1_000_000}m" if count >= 1_000_000 else f"{count // 1000}k"


def _log_event(log_path: Path, event: str) -> dict[str, Any] | None:
    """The last ``event`` of a JSON log."""
    found = None
    with log_path.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            if f'"{event}"' in line:
                with contextlib.suppress(ValueError):
                    found = json.loads(line)
    return found


def scenario_fleet(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """One pool per user over its targets, against a fixed split; work conservation (bench/fleet.py)."""
    sys.path.insert(0, str(BENCH_DIR.parent))  # run as a script, this folder is not on the path as ``bench``
    from bench.fleet import measure_fleet

    return measure_fleet(workdir, quick=sizes is QUICK)


def measure_planned_run(workdir: Path, sizes: Sizes, service: str, approvable: bool) -> dict[str, Any]:
    """``plan --policy`` (``--approvable`` or not) over a project like a retention policy's, then ``delete`` of
    that plan (with its digest when approvable), the time settings scaled as in ``utilization``: the delete
    run's slot figures, its requests counted apart from the planner's."""
    load = sizes.load()
    policy, plan = workdir / "policy.yaml", workdir / f"approval-{service}.yaml"
    policy.write_text(PLANNER_POLICY, encoding="utf-8")
    with emulator(None, load.scaled_durations(), service=service, random_backups=sizes.approval_backups,
                  servers=sizes.approval_servers, seed=3) as emu:
        argv = [sys.executable, "-m", "worker", "plan", "--policy", str(policy), "--log-format", "json",
                "--max-rps", "100000", *(["--approvable"] if approvable else [])]
        planned = run_process(argv, emu.env(), stdout=plan)
        if planned.exit_code != 0:
            raise RuntimeError(f"the planner ({service}) exited {planned.exit_code}")
        digest = ["--expect-digest", written_digest(plan.read_text(encoding="utf-8"))] if approvable else []
        before = emu.stats()
        run = run_worker(emu, plan, [*scaled_flags(load.time_factor), *digest], workdir)
        after = emu.stats()
    _check_clean(run, f"approval ({service}, {'approvable' if approvable else 'plain'})")
    routes = {route: n - before["requests_by_route"].get(route, 0) for route, n in after["requests_by_route"].items()}
    tasks = len(run.report["results"]) if run.report else 0
    first, last = run.makespan()
    figures = slot_figures({**after, "requests_by_route": routes}, last - first, tasks, load.time_factor)
    return {**figures, "tasks": tasks, "makespan_s": round(last - first, 3), "requests_by_route": routes,
            "max_outstanding": max(after["max_outstanding"].values()), "exit_code": run.process.exit_code,
            "counts": run.report["counts"] if run.report else None}


def scenario_approval(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """What an approvable plan costs a run: the same project planned and deleted twice per service, once from a
    plain plan, once from an approvable one run with its digest (each backup's identity checked before its
    DELETE: CSBS one listing per server, CBR the look it makes for the plan's vault_id)."""
    runs = {f"{service} {kind}": measure_planned_run(workdir, sizes, service, kind == "approvable")
            for service in SERVICES for kind in ("plain", "approvable")}
    rows = [[name, r["tasks"], r["utilization"], r["requests_per_task"], r["max_outstanding"],
             _routes(r["requests_by_route"]), r["exit_code"]] for name, r in runs.items()]
    load = sizes.load()
    notes = [f"a project of {sizes.approval_backups:,} backups over {sizes.approval_servers} servers (as plan_scale's, "
             "180 days), planned with plan_scale's policy; the deletions of the plan: "
             f"{load.about()}, times {load.time_factor:g}, the worker's time settings too",
             "requests_per_task = requests of the delete run (preflight included, the planner's not) / tasks",
             "approvable: `plan --approvable`, run with `delete --expect-digest`"]
    print_table("approval", ["run", "tasks", "utilization", "requests_per_task", "max_outstanding", "requests",
                             "exit"], rows, notes)
    figures = {f"approval_{name.replace(' ', '_')}_{key}": r[key] for name, r in runs.items()
               for key in ("utilization", "requests_per_task")}
    emit("approval", {**figures, "time_factor": load.time_factor, "runs": runs})
    return figures


SCENARIOS = {
    "utilization": scenario_utilization,
    "overhead": scenario_overhead,
    "plan_scale": scenario_plan_scale,
    "faults": scenario_faults,
    "short": scenario_short,
    "no_progress": scenario_no_progress,
    "busy": scenario_busy,
    "fleet": scenario_fleet,
    "approval": scenario_approval,
}
HEADLINE = {  # the figure -> the scenario that measures it
    "utilization": "utilization", "requests_per_task": "utilization", "baseline_utilization": "utilization",
    "faults_utilization": "faults", "tasks_per_s": "overhead", "cpu_ms_per_task": "overhead",
    "plan_1m_s": "plan_scale", "plan_1m_rss_mb": "plan_scale",
    "cbr_utilization": "utilization", "cbr_requests_per_task": "utilization",
    **{f"planner_{size}_{service}_{figure}": "plan_scale" for size in ("100k", "1m") for service in ("csbs", "cbr")
       for figure in ("s", "cpu_s", "rss_mb")},
    **{f"{prefix}{who}{figure}": scenario
       for scenario, prefix in (("short", "short_1s_"), ("short", "short_1_10s_"), ("no_progress", "no_progress_"),
                                ("busy", "busy_"))
       for who in ("", "cbr_", "baseline_")
       for figure in ("utilization", "requests_per_task")},
    "busy_requests_per_task_net": "busy", "busy_cbr_requests_per_task_net": "busy",
    "approval_csbs_approvable_requests_per_task": "approval", "approval_cbr_approvable_requests_per_task": "approval",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmarks of csbs-worker against the CSBS and CBR emulators.")
    parser.add_argument("scenario", nargs="?", choices=list(SCENARIOS), help="run only this scenario (default: all)")
    parser.add_argument("--quick", action="store_true", help="shortened sizes (all nine in about 7 minutes)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    names = [args.scenario] if args.scenario else list(SCENARIOS)
    started = time.perf_counter()
    figures: dict[str, dict[str, Any]] = {}
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"csbs-bench-{name}-") as workdir:
            figures[name] = SCENARIOS[name](Path(workdir), sizes)
    if len(names) > 1:
        print(f"\n({'quick' if args.quick else 'full'} run of {', '.join(names)}: "
              f"{time.perf_counter() - started:.1f} s)")
        headline = {key: figures[name].get(key) for key, name in HEADLINE.items()}
        print(json.dumps(headline), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
