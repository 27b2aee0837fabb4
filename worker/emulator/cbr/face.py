"""The CBR face as the ``emulator`` command serves it (``worker.emulator.core.face.Face``)."""

from __future__ import annotations

from collections.abc import Sequence

from worker.emulator.cbr.app import CbrEmulator
from worker.emulator.cbr.scenario import CbrFaultRule, CbrScenario
from worker.emulator.core.face import Face, Started

VAULTS = ("default", "daily-backup-policy")  # migrated manual backups, and a migrated CSBS policy's


def start(scenario: CbrScenario, seed: int, backups: int) -> Started:
    """An emulator with ``backups`` random server backups, each with a disk backup, over ``VAULTS``."""
    emulator = CbrEmulator(scenario, seed=seed)
    made = emulator.seed_random(backups, vault_names=VAULTS)
    return emulator, f"{len(made)} backups, each with a disk backup, in the vaults {', '.join(VAULTS)}"


def seed_tasks(emulator: CbrEmulator, tasks: Sequence[tuple[str, str | None]]) -> None:
    """A plan's backups: one manual server backup with a system-disk child per id."""
    emulator.seed_plan(backup for _, backup in tasks if backup is not None)


FACE = Face(
    title="CBR", about="Cloud Backup and Recovery", scenario=CbrScenario, fault_rule=CbrFaultRule,
    example="config/scenario.cbr.example.yaml",
    # the other behaviour flags have no CBR meaning and are refused
    flag_fields={
        "delete_duration": "delete_duration_s", "tasks_per_user": "deletions_per_user",
        "status_lag": "status_lag_s", "fail_rate": "fail_rate", "token_ttl": "token_ttl_s",
        "progress_reported": "progress_reported", "busy_first_deletes": "busy_first_deletes",
    },
    start=start, seed_tasks=seed_tasks, endpoint="CSBS_SERVICE=cbr ",
)
