"""Simulate the worker's Pacer on deletions of 30-300 s, without HTTP: looks per task and idle after the end.

Run as ``python bench/pacer_sim.py [--jitter S] [--tasks N]``. Each task starts at its DELETE and reports
``int(elapsed / duration * 100)`` % progress, as the emulator does; the pacer of ``worker.engine.pacing`` decides
every pause. ``--jitter`` adds up to S seconds between the server's and the worker's view of each instant
(request latency). A second to run, so a pacing idea can be tried before the minute of ``run.py``.
Its GETs per task matched the measured ``utilization`` scenario (7.30 simulated, 7.26 measured, for the
first pacer); its idle does not include round trips or the end-of-plan tail.
"""

from __future__ import annotations

import argparse
import random
import statistics

from worker.engine.pacing import Pacer, PollTiming
from worker.engine.sighting import Seen, Sighting
from worker.settings import SETTINGS

REAL_DURATION_S = (30.0, 300.0)


def default_timing() -> PollTiming:
    """The poll settings at their defaults (worker/settings.py)."""
    defaults = {spec.key: spec.default for spec in SETTINGS}
    return PollTiming(defaults["poll_first"], defaults["poll_min"], defaults["poll_max"])


def follow(duration_s: float, timing: PollTiming, rng: random.Random, jitter_s: float) -> tuple[int, float]:
    """Looks until the task is seen gone: (looks, seconds from its end to the look that saw it)."""
    start = rng.uniform(0, jitter_s)  # the worker's clock starts when the DELETE's answer is back
    pacer = Pacer(timing, start)
    now = start + pacer.first_delay()
    looks = 0
    while True:
        looks += 1
        seen_at = now - rng.uniform(0, jitter_s)  # the server answered a little before the worker read it
        if seen_at >= duration_s:
            return looks, now - duration_s
        progress = int(seen_at / duration_s * 100)
        now += pacer.next_delay(now, Sighting(Seen.RUNNING, progress)) + rng.uniform(0, jitter_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--jitter", type=float, default=0.0, help="seconds of request latency (default 0)")
    args = parser.parse_args()
    rng = random.Random(1)
    durations = [rng.uniform(*REAL_DURATION_S) for _ in range(args.tasks)]
    timing = default_timing()
    followed = [follow(d, timing, rng, args.jitter) for d in durations]
    looks = statistics.mean(n for n, _ in followed)
    idle = statistics.mean(late for _, late in followed)
    mean_s = statistics.mean(durations)
    print(f"{timing}, jitter {args.jitter:g} s, {args.tasks} tasks: GETs/task {looks:.3f}, requests/task "
          f"{looks + 1:.3f} (DELETE included), seen late by {idle:.2f} s/task, slot utilization "
          f"~{mean_s / (mean_s + idle):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
