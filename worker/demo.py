"""The zero-setup demo of ``delete --emulator``: an emulator on loopback (CSBS, or CBR with ``--service cbr``),
seeded with the plan's backups.

Part of the composition root: only ``cli.py`` imports it, and only when ``--emulator`` is given, so a
production start never loads the emulator.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import TypeVar

from worker.emulator import Emulator, Scenario, ScenarioError, serve
from worker.emulator.cbr import CbrEmulator, CbrScenario
from worker.emulator.cbr import serve as serve_cbr
from worker.errors import UsageError
from worker.plan import Plan

DEMO_DELETE_DURATION_S = (2.0, 8.0)  # long enough to watch the queue work, short enough for a demo
DEMO_RANDOM_BACKUPS = 40  # what an empty plan (``--policy``) finds in the embedded emulator


def embedded_emulator(plan: Plan, project_id: str, service: str = "csbs", scenario_path: str | None = None,
                      seed: int = 1) -> contextlib.AbstractAsyncContextManager[tuple[str, str]]:
    """An emulator of ``service`` on loopback, seeded with the plan's backups; yields (endpoint, token)."""
    if service == "cbr":
        return _cbr_emulator(plan, project_id, scenario_path, seed)
    return _csbs_emulator(plan, project_id, scenario_path, seed)


S = TypeVar("S", Scenario, CbrScenario)


def _scenario(kind: type[S], path: str | None, project_id: str, token: str) -> S:
    """The demo's scenario (or the one in ``path``), accepting only this run's fresh token."""
    tokens = {token: "demo-user"}
    try:
        if path:
            return kind.from_yaml(path, project_id=project_id, tokens=tokens)
        return kind(project_id, tokens=tokens, delete_duration_s=DEMO_DELETE_DURATION_S)
    except ScenarioError as error:
        raise UsageError(str(error)) from None


@contextlib.asynccontextmanager
async def _cbr_emulator(plan: Plan, project_id: str, scenario_path: str | None,
                        seed: int) -> AsyncIterator[tuple[str, str]]:
    token = secrets.token_urlsafe(24)
    emulator = CbrEmulator(_scenario(CbrScenario, scenario_path, project_id, token), seed=seed)
    backup_ids = [task.item_id for task in plan if task.item_id is not None]
    if backup_ids:
        emulator.seed_plan(backup_ids)
    else:
        emulator.seed_random(DEMO_RANDOM_BACKUPS, vault_names=("default", "daily-policy"))
    async with serve_cbr(emulator, host="127.0.0.1", port=0) as base_url:
        yield base_url, token


@contextlib.asynccontextmanager
async def _csbs_emulator(plan: Plan, project_id: str, scenario_path: str | None,
                         seed: int) -> AsyncIterator[tuple[str, str]]:
    token = secrets.token_urlsafe(24)
    emulator = Emulator(_scenario(Scenario, scenario_path, project_id, token), seed=seed)
    # The plan is deduplicated: a whole record never comes with items of its own.
    records: dict[str, list[str] | None] = {}
    for task in plan:
        items = records.setdefault(task.checkpoint_id, None if task.item_id is None else [])
        if items is not None and task.item_id is not None:
            items.append(task.item_id)
    if records:
        emulator.seed_plan(records.items())
    else:
        emulator.seed_random(DEMO_RANDOM_BACKUPS)
    async with serve(emulator, host="127.0.0.1", port=0) as base_url:
        yield base_url, token
