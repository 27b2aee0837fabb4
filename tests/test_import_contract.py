"""The layers stay as docs/design.md draws them: import-linter's contracts (pyproject.toml) hold, and no module
of the worker takes part in an import cycle, not even one hidden behind ``TYPE_CHECKING``."""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def _cycle_from(graph: grimp.ImportGraph, start: str) -> list[str] | None:
    """A shortest chain of imports from a module of ``start``'s back to it, if any."""
    for imported in graph.find_modules_directly_imported_by(start):
        if imported.startswith("worker") and imported != start:
            chain = graph.find_shortest_chain(importer=imported, imported=start)
            if chain is not None:
                return [start, *chain]
    return None


def test_no_module_is_part_of_an_import_cycle() -> None:
    graph = grimp.build_graph("worker", exclude_type_checking_imports=False)
    cycles = [cycle for module in sorted(graph.modules) if (cycle := _cycle_from(graph, module))]
    # A package's __init__ importing its own modules is not a cycle between layers.
    real = [c for c in cycles if not any(b.startswith(a + ".") or a.startswith(b + ".") for a, b in pairwise(c))]
    assert real == [], "\n".join(" -> ".join(cycle) for cycle in real[:5])


def test_a_production_start_never_loads_the_emulator(tmp_path: Path) -> None:
    """`delete` without --emulator runs (here: to the exit 2 of a missing endpoint) without importing it."""
    plan = tmp_path / "plan.txt"
    plan.write_text("6f1c8a52-3d4e-4b8f-9a0b-1c2d3e4f5a6b\n", encoding="utf-8")
    script = ("import sys\nfrom worker.cli import main\n"
              f"code = main(['delete', '--log-format', 'json', {str(plan)!r}])\n"
              "print(code, 'worker.emulator' in sys.modules, 'aiohttp.web' in sys.modules)\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env,
                          check=False, timeout=60)
    assert done.stdout.split() == ["2", "False", "False"], done.stderr[-2000:]
