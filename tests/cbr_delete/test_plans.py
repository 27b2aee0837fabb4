"""CBR plans: `vault_id` checks before the DELETE, the plan's vault in a dry run's listing, and the service
chosen from the environment. What every service promises of a plan is in tests/contract."""

from __future__ import annotations

from collections.abc import Callable

from tests.cbr_delete.conftest import CBR, ZERO_COUNTS, by_backup, new_id, outcomes, seed, text_plan
from tests.harness import PROJECT, Run, cbr_emulator_on_loopback, cloud_env


def test_yaml_plan_with_vault_check(worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """A YAML plan (`service: cbr`) with `vault_id` checks: the right vault is deleted, a backup in another
    vault fails (vault_mismatch) before any DELETE, an absent one with a vault is already_absent."""
    with cbr_emulator_on_loopback() as served:
        vault = served.emulator.vault_id("default")
        other = served.emulator.vault_id("daily-policy")
        (right,) = seed(served, 1, vault_id=vault)
        (wrong,) = seed(served, 1, vault_id=other)
        absent = new_id()
        plan = write_plan(f"service: cbr\nproject_id: {PROJECT}\ndeletions:\n"
                          f"  - backup_id: {right}\n    vault_id: {vault}\n"
                          f"  - backup_id: {wrong}\n    vault_id: {vault}\n"
                          f"  - backup_id: {absent}\n    vault_id: {vault}\n")
        run = worker(["delete", *CBR, plan], cloud_env(served.url))
        sent = dict(served.emulator.stats.deletes_by_target)
        still = served.emulator.backup(wrong)
    assert run.code == 1
    assert outcomes(run) == {right: "deleted", wrong: "failed", absent: "already_absent"}
    rows = by_backup(run)
    assert rows[right]["vault_id"] == vault
    assert rows[wrong]["error_code"] == "vault_mismatch" and other in rows[wrong]["error_message"]
    assert wrong not in sent and still is not None


def test_service_from_the_environment(worker: Callable[..., Run]) -> None:
    """CSBS_SERVICE=cbr selects CBR as --service cbr does."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 2)
        run = worker(["delete", "-"], {**cloud_env(served.url), "CSBS_SERVICE": "cbr"}, stdin=text_plan(ids))
    assert run.code == 0
    assert run.report is not None and run.report["service"] == "cbr"
    assert outcomes(run) == dict.fromkeys(ids, "deleted")


def test_dry_run_lists_the_plans_vault(worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """--dry-run prints the backup ids, with the plan's vault where the plan gives one, reports every task
    not_attempted, exit 0, and sends no DELETE."""
    with cbr_emulator_on_loopback() as served:
        ids = seed(served, 3)
        vault = served.emulator.vault_id()
        plan = write_plan("deletions:\n" + "".join(f"  - backup_id: {b}\n" for b in ids[:2])
                          + f"  - backup_id: {ids[2]}\n    vault_id: {vault}\n")
        run = worker(["delete", *CBR, "--dry-run", plan], cloud_env(served.url))
        stats = served.emulator.stats
        left = served.emulator.backup_ids()
    assert run.code == 0
    assert sum(stats.deletes_by_target.values()) == 0 and stats.requests_by_route["delete"] == 0
    assert sorted(left) == sorted(ids)
    assert run.report is not None and run.report["dry_run"] is True
    assert run.report["counts"] == {**ZERO_COUNTS, "not_attempted": 3}
    lines = run.stdout.splitlines()
    assert lines == [ids[0], ids[1], f"{ids[2]}  # vault {vault}"]
