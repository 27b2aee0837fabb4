"""Run one command and write its exit code, wall time, CPU time and peak RSS as JSON to a file.

Run as ``python -I -S bench/measure.py RESULT_JSON PROGRAM [ARG ...]`` (the environment is passed on as is).

Why a launcher: on Linux a child's ``ru_maxrss`` (from ``wait4``) is never below the RSS of the process
that forked it, because ``exec`` records the high-water mark of the memory it replaces, which is the
parent's. Forked from the benchmark process (tens of MB, more after reading big reports) the figure would
be the benchmark's, not the worker's. This launcher is a bare interpreter (``-I -S``: no site packages,
a few MB), so the peak RSS it reports is the command's own.
"""

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    result_path, command = argv[1], argv[2:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: become the command (stdin, stdout and stderr are inherited)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall_s = time.perf_counter() - started
    result = {"exit_code": os.waitstatus_to_exitcode(status), "wall_s": wall_s,
              "cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_kb": usage.ru_maxrss}
    with open(result_path, "w", encoding="utf-8") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
