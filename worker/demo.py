"""The zero-setup demo of ``delete --emulator``: an emulator of the run's service on loopback, seeded with the
plan's backups (or with random ones when the plan is empty: ``--policy``).

Part of the composition root: only ``cli.py`` imports it, and only when ``--emulator`` is given, so a
production start never loads the emulator.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from worker.emulator import ScenarioError, serve
from worker.emulator.registry import FACES
from worker.errors import UsageError
from worker.plan import Plan

DEMO_DELETE_DURATION_S = (2.0, 8.0)  # long enough to watch the queue work, short enough for a demo
DEMO_RANDOM_BACKUPS = 40  # what an empty plan (``--policy``) finds in the embedded emulator


@contextlib.asynccontextmanager
async def embedded_emulator(plan: Plan, project_id: str, service: str, scenario_path: str | None = None,
                            seed: int = 1) -> AsyncIterator[tuple[str, str]]:
    """An emulator of ``service`` on loopback, seeded with the plan's backups; yields (endpoint, token)."""
    face = FACES[service]
    token = secrets.token_urlsafe(24)
    tasks = [(task.container_id, task.backup_id) for task in plan]
    emulator, _ = face.start(_scenario(face.scenario, scenario_path, project_id, token), seed,
                             0 if tasks else DEMO_RANDOM_BACKUPS)
    face.seed_tasks(emulator, tasks)
    async with serve(emulator, host="127.0.0.1", port=0) as base_url:
        yield base_url, token


def _scenario(kind: Any, path: str | None, project_id: str, token: str) -> Any:
    """The demo's scenario (or the one in ``path``), accepting only this run's fresh token."""
    tokens = {token: "demo-user"}
    try:
        if path:
            return kind.from_yaml(path, project_id=project_id, tokens=tokens)
        return kind(project_id, tokens=tokens, delete_duration_s=DEMO_DELETE_DURATION_S)
    except ScenarioError as error:
        raise UsageError(str(error)) from None
