"""The CSBS face as the ``emulator`` command serves it (``worker.emulator.core.face.Face``)."""

from __future__ import annotations

from collections.abc import Sequence

from worker.emulator.core.face import Face
from worker.emulator.csbs.app import Emulator
from worker.emulator.csbs.scenario import FaultRule, Scenario


def seed_random(emulator: Emulator, n: int, project: str | None = None) -> str:
    """``n`` random backup records of 1-3 backups."""
    made = emulator.seed_random(n, project)
    backups = sum(len(items) for _, items in made)
    return f"{backups} backups in {len(made)} records"


def seed_tasks(emulator: Emulator, tasks: Sequence[tuple[str, str | None]], project: str | None = None) -> None:
    """A plan's records: a whole-record task gets 1-3 random backups, item tasks their own ids (the plan is
    deduplicated: a whole record never comes with items of its own)."""
    records: dict[str, list[str] | None] = {}
    for record, item in tasks:
        items = records.setdefault(record, None if item is None else [])
        if items is not None and item is not None:
            items.append(item)
    emulator.seed_plan(records.items(), project)


FACE = Face(
    title="CSBS", about="Cloud Server Backup Service", scenario=Scenario, fault_rule=FaultRule,
    example="config/scenario.example.yaml",
    flag_fields={
        "delete_duration": "delete_duration_s", "tasks_per_user": "tasks_per_user", "gone_mode": "gone_mode",
        "deleted_linger": "deleted_linger_s", "busy_mode": "busy_mode", "status_lag": "status_lag_s",
        "fail_rate": "fail_rate", "stuck_rate": "stuck_rate", "token_ttl": "token_ttl_s",
        "progress_reported": "progress_reported", "busy_first_deletes": "busy_first_deletes",
    },
    emulator=Emulator, seed_random=seed_random, seed_tasks=seed_tasks,
)
