"""The import layers of the client: no cycles, none hidden behind TYPE_CHECKING, retry depends on no client.

Read from the source with ``ast`` so that a cycle shows even where the import order happens to work.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT_MODULES = ["worker/engine/answer.py", "worker/cloud/wire.py", "worker/cloud/auth.py",
                  "worker/cloud/transport.py", "worker/cloud/paging.py", "worker/services/csbs/client.py",
                  "worker/services/cbr/client.py", "worker/cloud/signer.py", "worker/services/csbs/__init__.py",
                  "worker/engine/retry.py"]


def worker_imports(path: str) -> set[str]:
    """The worker modules a source file imports, anywhere in it."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("worker"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("worker"))
    return found


def module_of(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


@pytest.mark.parametrize("path", CLIENT_MODULES)
def test_no_type_checking_imports(path):
    """No import is hidden behind TYPE_CHECKING (it would hide a cycle)."""
    assert "TYPE_CHECKING" not in (ROOT / path).read_text(encoding="utf-8")


def test_client_layers_have_no_cycle():
    """answers <- wire <- auth <- transport <- clients, retry on its own: the graph of these modules has no cycle."""
    graph = {module_of(p): worker_imports(p) & {module_of(q) for q in CLIENT_MODULES} for p in CLIENT_MODULES}
    graph["worker.services.csbs"] -= {"worker.services.csbs"}

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    cyclic = [module for module in graph if module != "worker.services.csbs" and reaches(module, module)]
    assert cyclic == []
    assert worker_imports("worker/engine/retry.py") == set()
    assert "worker.services.csbs.client" not in worker_imports("worker/cloud/auth.py")
    # the kernel knows no service: each client hands the transport its own table of answers
    for kernel in ("worker/cloud/transport.py", "worker/cloud/paging.py", "worker/cloud/auth.py",
                   "worker/cloud/wire.py"):
        assert not any(module.startswith("worker.services") for module in worker_imports(kernel)), kernel


def test_emulator_and_worker_do_not_import_each_other():
    """The emulator imports nothing else of worker, and the client nothing of the emulator."""
    for path in (ROOT / "worker/emulator").rglob("*.py"):
        if "cbr" in path.parts:  # another package, checked by its own tests
            continue
        outside = {m for m in worker_imports(path.relative_to(ROOT).as_posix()) if not m.startswith("worker.emulator")}
        assert outside == set(), path
    for module in CLIENT_MODULES:
        assert not any(m.startswith("worker.emulator") for m in worker_imports(module)), module
