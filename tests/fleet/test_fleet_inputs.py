"""What the fleet file points at: each served target's plan or policy (relative paths, their faults named at
the fleet's line and the target), and the choice of the users a run serves (--shard, --user)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import FLEET, PROJECT_A_DEV, PROJECT_B, Load, edit
from tests.plan.samples import C1, C3
from worker.errors import PlanError, PolicyError, SettingsError, UsageError
from worker.fleet import load_fleet
from worker.settings import load_settings


def fault(load: Load, error: type[UsageError] = UsageError, text: str = FLEET, **options: Any) -> str:
    """The message the fleet is refused with."""
    with pytest.raises(error) as raised:
        load(text, **options)
    return str(raised.value)


@pytest.mark.parametrize(
    ("name", "text", "error", "words"),
    [
        ("plans/a.txt", f"{C1}\nnot-an-id\n", PlanError,
         ["fleet.yaml:10: target a-prod: ", "plans/a.txt:2: "]),
        ("plans/b.yaml", f"project_id: {PROJECT_A_DEV}\ndeletions:\n  - checkpoint_id: {C3}\n", PlanError,
         ["fleet.yaml:22: target b-prod: ", "plans/b.yaml:1: ", PROJECT_A_DEV]),
        ("plans/b.yaml", f"service: cbr\ndeletions:\n  - backup_id: {C3}\n", PlanError,
         ["fleet.yaml:22: target b-prod: ", "plans/b.yaml:1: ", "cbr"]),
        ("policies/dev.yaml", "keep:\n  last: 3\n  hourlies: 2\n", PolicyError,
         ["fleet.yaml:15: target a-dev: ", "policies/dev.yaml:3: ", "hourlies"]),
        ("policies/dev.yaml", "min_keep: 2\n", PolicyError, ["fleet.yaml:15: target a-dev: ", "no 'keep' rules"]),
    ],
    ids=["plan-line", "plan-of-another-project", "plan-of-another-service", "policy-key", "policy-without-keep"],
)
def test_plan_and_policy_faults_name_the_fleet_line_the_target_and_their_own_line(
        load: Load, folder: Path, name: str, text: str, error: type[UsageError], words: list[str]) -> None:
    """A bad plan or policy is exit 2 with the fleet's file:line and target before its own file:line."""
    (folder / name).write_text(text, encoding="utf-8")
    message = fault(load, error)
    for word in words:
        assert word in message


def test_a_missing_plan_is_named_with_its_target(load: Load, folder: Path) -> None:
    (folder / "plans/a.txt").unlink()
    assert "fleet.yaml:10: target a-prod: " in fault(load, PlanError)


def test_a_cbr_target_reads_its_plan_for_cbr(load: Load, folder: Path) -> None:
    """A target's plan is read for the target's service: here plain text of CBR backup ids."""
    (folder / "plans/b.yaml").write_text(f"{C3}\n", encoding="utf-8")
    fleet = load(edit("        plan: plans/b.yaml\n", "        plan: plans/b.yaml\n        service: cbr\n"))
    plan = fleet.users[1].targets[0].plan
    assert plan is not None and plan.service == "cbr" and [task.backup_id for task in plan] == [C3]


def test_paths_are_relative_to_the_fleet_files_folder(folder: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Plans and policies are found beside the fleet file wherever the run starts; absolute paths stay."""
    (folder / "fleets").mkdir()
    text = edit("plan: plans/a.txt", "plan: ../plans/a.txt")
    text = edit("policy: policies/dev.yaml", f"policy: {folder / 'policies/dev.yaml'}", text)
    text = edit("plan: plans/b.yaml", "plan: ../plans/b.yaml", text)
    (folder / "fleets/fleet.yaml").write_text(text, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    fleet = load_fleet("../fleets/fleet.yaml", load_settings({}, {}), {}, emulator=True)
    a_prod, a_dev = fleet.users[0].targets
    assert a_prod.plan_path == "../plans/a.txt" and a_prod.plan is not None and len(a_prod.plan) == 2
    assert a_dev.policy_path == str(folder / "policies/dev.yaml")


def test_a_backup_listed_twice_is_a_warning_naming_the_target(load: Load, folder: Path) -> None:
    (folder / "plans/a.txt").write_text(f"{C1}\n{C1}\n", encoding="utf-8")
    fleet = load()
    assert len(fleet.users[0].targets[0].plan or ()) == 1
    (warning,) = fleet.warnings
    assert "fleet.yaml:10: target a-prod: " in warning


@pytest.mark.parametrize(("options", "served"), [
    ({}, ["acct-a", "acct-b"]),
    ({"shard": 0}, ["acct-a"]),
    ({"shard": 1}, ["acct-b"]),
    ({"user": "acct-b"}, ["acct-b"]),
], ids=["all", "shard-0", "shard-1", "user"])
def test_shard_or_user_choose_the_users_served(load: Load, options: dict[str, object], served: list[str]) -> None:
    """--shard N serves the user at index N, --user NAME the one of that name; each keeps its index."""
    fleet = load(**options)
    assert [user.name for user in fleet.users] == served and fleet.user_count == 2
    assert [user.index for user in fleet.users] == [["acct-a", "acct-b"].index(name) for name in served]


@pytest.mark.parametrize(("options", "words"), [
    ({"shard": 2}, ["--shard 2:", "2 users", "0 to 1"]),
    ({"shard": -1}, ["--shard -1:"]),
    ({"user": "acct-bb"}, ["--user 'acct-bb'", "no such user", "did you mean acct-b?"]),
    ({"user": "acct-a", "shard": 0}, ["--shard or --user, not both"]),
], ids=["shard-too-high", "shard-negative", "unknown-user", "both"])
def test_a_choice_that_names_no_user_is_refused(load: Load, options: dict[str, Any], words: list[str]) -> None:
    message = fault(load, **options)
    for word in words:
        assert word in message


def test_only_the_served_users_inputs_and_sign_in_are_checked(load: Load, folder: Path) -> None:
    """A shard checks its own user's plans, policies and sign-in, not another's (which may live elsewhere)."""
    (folder / "plans/b.yaml").write_text("not a plan\n", encoding="utf-8")
    fleet = load(env={"ACCT_A_CSBS_AUTH_TOKEN": "t"}, shard=0)
    assert [user.name for user in fleet.users] == ["acct-a"]
    assert "user acct-b: no sign-in method" in fault(load, SettingsError, env={"ACCT_A_CSBS_AUTH_TOKEN": "t"})


def test_every_sign_in_is_checked_before_any_plan(load: Load, folder: Path) -> None:
    """A missing sign-in is found before a plan is read (plans may be large)."""
    (folder / "plans/a.txt").write_text("not a plan\n", encoding="utf-8")
    assert "user acct-b: no sign-in method" in fault(load, SettingsError, env={"ACCT_A_CSBS_AUTH_TOKEN": "t"})


def test_a_users_plans_are_checked_against_each_targets_project(load: Load, folder: Path) -> None:
    """Each target checks its plan against its own project, not another target's."""
    (folder / "plans/b.yaml").write_text(f"project_id: {PROJECT_B.upper()}\ndeletions:\n  - checkpoint_id: {C3}\n",
                                         encoding="utf-8")
    assert load().users[1].targets[0].plan is not None
