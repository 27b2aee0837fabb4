"""The CBR face as the ``emulator`` command serves it (``worker.emulator.core.face.Face``)."""

from __future__ import annotations

from collections.abc import Sequence

from worker.emulator.cbr.app import CbrEmulator
from worker.emulator.cbr.scenario import CbrFaultRule, CbrScenario
from worker.emulator.core.face import Face

VAULTS = ("default", "daily-backup-policy")  # migrated manual backups, and a migrated CSBS policy's


def seed_random(emulator: CbrEmulator, n: int, project: str | None = None) -> str:
    """``n`` random server backups, each with a disk backup, over ``VAULTS``."""
    made = emulator.seed_random(n, vault_names=VAULTS, project=project)
    return f"{len(made)} backups, each with a disk backup, in the vaults {', '.join(VAULTS)}"


def seed_tasks(emulator: CbrEmulator, tasks: Sequence[tuple[str, str | None]], project: str | None = None) -> None:
    """A plan's backups: one manual server backup with a system-disk child per id."""
    emulator.seed_plan((backup for _, backup in tasks if backup is not None), project)


FACE = Face(
    title="CBR", about="Cloud Backup and Recovery", scenario=CbrScenario, fault_rule=CbrFaultRule,
    example="config/scenario.cbr.example.yaml",
    # the other behaviour flags have no CBR meaning and are refused
    flag_fields={
        "delete_duration": "delete_duration_s", "tasks_per_user": "deletions_per_user",
        "status_lag": "status_lag_s", "fail_rate": "fail_rate", "token_ttl": "token_ttl_s",
        "progress_reported": "progress_reported", "busy_first_deletes": "busy_first_deletes",
    },
    emulator=CbrEmulator, seed_random=seed_random, seed_tasks=seed_tasks, endpoint="CSBS_SERVICE=cbr ",
)
