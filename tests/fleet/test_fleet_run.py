"""``csbs-worker fleet`` end to end, against a fleet of emulators on loopback sharing one per-user task board
(docs/fleet.md): one pool per user over its targets, what ends where, stops, bad input, sign-in, shards,
adoption across targets, and the report's shape."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.contract.test_closed_pipes import assert_quiet, run_with_reader_gone, summary
from tests.fleet.served import CBR_EP, CSBS_EP, CSBS_NL, Target, fleet_on_loopback, sign_ins, write_fleet
from tests.harness import CSBS_PROVIDER, Run, closed_port, gateway_in_thread, run_worker, silent_server
from worker.emulator.fleet import FleetSite

P1, P2, P3, P4 = ("1" * 32, "2" * 32, "3" * 32, "4" * 32)
SITES = (FleetSite("csbs", CSBS_EP, (P1, P2, P4)), FleetSite("csbs", CSBS_NL, (P4,)), FleetSite("cbr", CBR_EP, (P3,)))
USERS = ("acct-a", "acct-b")
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "fleet.example.yaml"
TARGET_KEYS = {"name", "user", "service", "project_id", "endpoint", "exit_code", "reason", "calls", "counts",
               "results"}

Fleet = Callable[..., Run]


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Fleet:
    """``csbs-worker fleet FILE ARGS`` in this process with ``env`` as its sign-in, the report in tmp_path."""
    def run(path: Path, env: Mapping[str, str], *args: str) -> Run:
        return run_worker(["fleet", str(path), *args], env, monkeypatch, capsys,
                          report=str(tmp_path / "report.json"))
    return run


def two_users(served: Any, sizes: Sequence[int] = (8, 8, 8, 6)) -> dict[str, list[Target]]:
    """acct-a: two CSBS projects and one CBR project; acct-b: one CSBS project (in another region)."""
    a1, a2, a3, b1 = sizes
    return {
        "acct-a": [Target("a-csbs-1", "csbs", CSBS_EP, P1, served.seed("csbs", CSBS_EP, P1, a1)),
                   Target("a-csbs-2", "csbs", CSBS_EP, P2, served.seed("csbs", CSBS_EP, P2, a2)),
                   Target("a-cbr", "cbr", CBR_EP, P3, served.seed("cbr", CBR_EP, P3, a3))],
        "acct-b": [Target("b-csbs", "csbs", CSBS_NL, P4, served.seed("csbs", CSBS_NL, P4, b1))],
    }


def by_name(run: Run) -> dict[str, dict[str, Any]]:
    assert run.report is not None
    return {target["name"]: target for target in run.report["targets"]}


def test_one_pool_per_user_over_its_targets_and_every_backup_gone(tmp_path: Path, fleet: Fleet) -> None:
    """acct-a's 24 deletions over three targets (two CSBS projects, one CBR project) never have more than five
    outstanding at the provider, counted across projects and services; acct-b's run beside them; every backup
    is gone; the report has one object per target, each with its rows, and the summed counts."""
    with fleet_on_loopback(SITES, USERS) as served:
        path = write_fleet(tmp_path, served, two_users(served))
        run = fleet(path, sign_ins(served, USERS))
        high = {user: served.high_water(user) for user in USERS}
        deletes = sum(served.requests(site.service, site.endpoint, "delete") for site in SITES)
    assert run.code == 0
    assert high == {"acct-a": 5, "acct-b": 5}
    assert deletes == 30
    report = run.report
    assert report is not None
    assert report["exit_code"] == 0 and report["counts"]["deleted"] == 30
    assert {"run_id", "started_at", "ended_at", "exit_code", "counts", "targets"} <= set(report)
    targets = by_name(run)
    assert list(targets) == ["a-csbs-1", "a-csbs-2", "a-cbr", "b-csbs"]
    for target in targets.values():
        assert set(target) == TARGET_KEYS
        assert target["exit_code"] == 0 and target["counts"]["deleted"] == len(target["results"])
    assert targets["a-cbr"]["service"] == "cbr" and set(targets["a-cbr"]["results"][0]) >= {"backup_id", "vault_id"}
    assert set(targets["a-csbs-1"]["results"][0]) >= {"checkpoint_id", "checkpoint_item"}
    assert (targets["a-cbr"]["user"], targets["b-csbs"]["user"]) == ("acct-a", "acct-b")
    deleted = [e for e in run.events if e.get("event") == "task_deleted"]
    assert {(e["user"], e["target"]) for e in deleted} == {(t["user"], t["name"]) for t in targets.values()}


def test_a_target_refusing_the_project_ends_alone(tmp_path: Path, fleet: Fleet) -> None:
    """acct-a's second CSBS project answers 403 to everything: that target ends with exit 3 and its tasks
    not_attempted (nothing was sent there), acct-a's other targets and acct-b's delete everything, and the fleet
    exits 3."""
    sites = (FleetSite("csbs", CSBS_EP, (P1,), refused=(P2,)), *SITES[1:])
    with fleet_on_loopback(sites, USERS) as served:
        users = two_users(served, (6, 0, 6, 4))
        users["acct-a"][1].pairs = [(users["acct-a"][0].pairs[0][0], "00000000-0000-4000-8000-000000000001")]
        path = write_fleet(tmp_path, served, users)
        run = fleet(path, sign_ins(served, USERS))
    assert run.code == 3
    targets = by_name(run)
    assert targets["a-csbs-2"]["exit_code"] == 3 and targets["a-csbs-2"]["counts"]["not_attempted"] == 1
    assert "403" in targets["a-csbs-2"]["reason"]
    assert [targets[name]["exit_code"] for name in ("a-csbs-1", "a-cbr", "b-csbs")] == [0, 0, 0]
    assert run.report is not None and run.report["counts"]["deleted"] == 16
    assert [e["target"] for e in run.named("target_aborted")] == ["a-csbs-2"]


def test_refused_credentials_end_that_users_targets_only(tmp_path: Path, fleet: Fleet) -> None:
    """acct-b's token is wrong: its target ends with exit 3, acct-a's go on to the end; the fleet exits 3."""
    with fleet_on_loopback(SITES, USERS) as served:
        path = write_fleet(tmp_path, served, two_users(served, (3, 3, 3, 3)))
        env = {**sign_ins(served, USERS), "ACCT_B_CSBS_AUTH_TOKEN": "not-a-token-of-this-cloud"}
        run = fleet(path, env)
    assert run.code == 3
    targets = by_name(run)
    assert targets["b-csbs"]["exit_code"] == 3 and targets["b-csbs"]["counts"]["not_attempted"] == 3
    assert [targets[name]["counts"]["deleted"] for name in ("a-csbs-1", "a-csbs-2", "a-cbr")] == [3, 3, 3]
    assert "not-a-token-of-this-cloud" not in str(run.report) + "".join(map(str, run.events))


def test_an_unreachable_target_is_exit_1_and_the_others_go_on(tmp_path: Path, fleet: Fleet) -> None:
    """acct-b's endpoint is a closed loopback port: its target ends with exit 1 (nothing sent), the others
    delete everything; the fleet exits 1."""
    with fleet_on_loopback(SITES, USERS) as served:
        users = two_users(served, (3, 3, 3, 3))
        path = write_fleet(tmp_path, served, users)
        text = path.read_text(encoding="utf-8").replace(served.cloud.url("csbs", CSBS_NL), closed_port())
        path.write_text(text, encoding="utf-8")
        run = fleet(path, sign_ins(served, USERS), "--request-timeout", "0.5")
    assert run.code == 1
    targets = by_name(run)
    assert targets["b-csbs"]["exit_code"] == 1 and targets["b-csbs"]["counts"]["not_attempted"] == 3
    assert sum(targets[name]["counts"]["deleted"] for name in ("a-csbs-1", "a-csbs-2", "a-cbr")) == 9


def test_a_bad_fleet_file_sends_nothing(tmp_path: Path, fleet: Fleet) -> None:
    """A per-run setting in the file is exit 2 naming file and line; no request reaches any site."""
    with fleet_on_loopback(SITES, USERS) as served:
        path = write_fleet(tmp_path, served, two_users(served, (2, 2, 2, 2)), report="x.json")
        run = fleet(path, sign_ins(served, USERS))
        requests = sum(served.requests(site.service, site.endpoint) for site in SITES)
    assert run.code == 2
    assert requests == 0
    assert run.report is None
    assert any(f"{path}:" in str(e.get("error", "")) + str(e.get("reason", "")) for e in run.events)


def test_a_missing_sign_in_variable_sends_nothing(tmp_path: Path, fleet: Fleet) -> None:
    """acct-b has no sign-in in the environment: exit 2 naming its prefixed variables, nothing sent."""
    with fleet_on_loopback(SITES, USERS) as served:
        path = write_fleet(tmp_path, served, two_users(served, (2, 2, 2, 2)))
        run = fleet(path, sign_ins(served, ["acct-a"]))
        requests = sum(served.requests(site.service, site.endpoint) for site in SITES)
    assert run.code == 2
    assert requests == 0
    assert "ACCT_B_" in run.stderr


def test_a_shard_runs_one_user_with_only_its_sign_in(tmp_path: Path, fleet: Fleet) -> None:
    """--shard 1 serves acct-b alone: acct-a's sign-in is not needed, the report lists only b's target, and
    acct-a's sites get no request; --shard 2 does not exist: exit 2."""
    with fleet_on_loopback(SITES, USERS) as served:
        path = write_fleet(tmp_path, served, two_users(served, (2, 2, 2, 3)))
        run = fleet(path, sign_ins(served, ["acct-b"]), "--shard", "1")
        untouched = served.requests("csbs", CSBS_EP) + served.requests("cbr", CBR_EP)
        missing = fleet(path, sign_ins(served, USERS), "--shard", "2")
    assert run.code == 0
    assert list(by_name(run)) == ["b-csbs"]
    assert run.report is not None and run.report["user"] == "acct-b" and run.report["counts"]["deleted"] == 3
    assert untouched == 0
    assert missing.code == 2


def test_deletions_in_progress_in_any_target_count_against_the_users_five(tmp_path: Path, fleet: Fleet) -> None:
    """An earlier run of acct-a left four deletions running in its first project (DELETEs sent just before);
    the fleet adopts them and runs its other targets beside them: acct-a never has more than five outstanding,
    the adopted ones get no second DELETE, and every backup is gone."""
    with fleet_on_loopback(SITES, USERS, delete_duration_s=(0.8, 1.0)) as served:
        users = two_users(served, (6, 6, 6, 2))
        path = write_fleet(tmp_path, served, {"acct-a": users["acct-a"]})
        first, token = users["acct-a"][0], served.cloud.token("acct-a")
        for record, backup in first.pairs[:4]:
            url = (f"{served.cloud.url('csbs', CSBS_EP)}/v1/{P1}/providers/{CSBS_PROVIDER}/checkpoints/{record}"
                   f"?checkpoint_items={backup}")
            request = urllib.request.Request(url, method="DELETE", headers={"X-Auth-Token": token})
            with urllib.request.urlopen(request, timeout=5) as answer:
                assert answer.status < 300
        run = fleet(path, sign_ins(served, ["acct-a"]))
        high = served.high_water("acct-a")
        deletes = served.requests("csbs", CSBS_EP, "delete") + served.requests("cbr", CBR_EP, "delete")
    assert run.code == 0
    assert high == 5
    assert deletes == 4 + 14  # the four of the earlier run, then one each for the 14 not in progress
    assert by_name(run)["a-csbs-1"]["counts"]["deleted"] == 6
    assert len(run.named("task_adopted")) == 4


def test_a_deadline_stops_every_target_with_exit_4_and_a_report(tmp_path: Path, fleet: Fleet) -> None:
    """Deletions of 5 s and a deadline of 1 s: every user's pool stops, in-flight tasks get --grace 0 and are
    timed_out (run_stopped), the rest not_attempted; exit 4, the report written for every target."""
    with fleet_on_loopback(SITES, USERS, delete_duration_s=(5.0, 5.0)) as served:
        path = write_fleet(tmp_path, served, two_users(served, (6, 6, 6, 6)))
        run = fleet(path, sign_ins(served, USERS), "--deadline", "1", "--grace", "0")
    assert run.code == 4
    assert run.report is not None and run.report["exit_code"] == 4
    counts = run.report["counts"]
    assert counts["timed_out"] == 10 and counts["not_attempted"] == 14  # five in flight per user
    assert {t["exit_code"] for t in run.report["targets"]} == {4}


def test_a_dry_run_plans_every_target_and_sends_no_delete(tmp_path: Path, fleet: Fleet) -> None:
    with fleet_on_loopback(SITES, USERS) as served:
        path = write_fleet(tmp_path, served, two_users(served, (2, 2, 2, 2)))
        run = fleet(path, sign_ins(served, USERS), "--dry-run")
        deletes = sum(served.requests(site.service, site.endpoint, "delete") for site in SITES)
    assert run.code == 0 and deletes == 0
    assert run.report is not None and run.report["counts"]["not_attempted"] == 8 and run.report["dry_run"]


def test_metrics_are_pushed_per_target_and_for_the_fleet(tmp_path: Path, fleet: Fleet) -> None:
    """One push per target, grouped by project and target (so the alert rules work per target), and one for
    the fleet; each carries its own exit code."""
    with fleet_on_loopback(SITES, USERS) as served, gateway_in_thread() as gateway:
        path = write_fleet(tmp_path, served, two_users(served, (2, 2, 2, 2)))
        run = fleet(path, sign_ins(served, USERS), "--pushgateway", gateway.url)
        paths = sorted(request.path for request in gateway.requests)
    assert run.code == 0
    assert paths == sorted([f"/metrics/job/csbs-worker/project/{P1}/target/a-csbs-1",
                            f"/metrics/job/csbs-worker/project/{P2}/target/a-csbs-2",
                            f"/metrics/job/csbs-worker/project/{P3}/target/a-cbr",
                            f"/metrics/job/csbs-worker/project/{P4}/target/b-csbs",
                            "/metrics/job/csbs-worker/fleet/fleet/project/fleet/user/all"])
    exit_codes = {sample for request in gateway.requests for (name, _), sample in request.samples().items()
                  if name == "csbs_worker_run_exit_code"}
    assert exit_codes == {0.0}


def test_a_stop_during_the_preflights_ends_every_target_with_exit_4(tmp_path: Path, fleet: Fleet) -> None:
    """acct-b's endpoint never answers: the deadline comes while its preflight waits; exit 4, nothing deleted,
    the report lists every target with its tasks not_attempted."""
    with fleet_on_loopback(SITES, USERS, delete_duration_s=(5.0, 5.0)) as served, silent_server() as silent:
        path = write_fleet(tmp_path, served, two_users(served, (2, 2, 2, 2)))
        text = path.read_text(encoding="utf-8").replace(served.cloud.url("csbs", CSBS_NL), silent)
        path.write_text(text, encoding="utf-8")
        run = fleet(path, sign_ins(served, USERS), "--deadline", "0.5")
        deletes = sum(served.requests(site.service, site.endpoint, "delete") for site in SITES)
    assert run.code == 4 and deletes == 0
    assert run.report is not None and run.report["counts"]["not_attempted"] == 8
    assert len(run.report["targets"]) == 4


def test_a_target_with_an_empty_plan_needs_no_cloud(tmp_path: Path, fleet: Fleet) -> None:
    """acct-b's plan is empty and its endpoint a closed port: the target ends 0 without a call (an empty plan
    is one thing however it comes, docs/plans.md), the others delete everything; the fleet exits 0."""
    with fleet_on_loopback(SITES, USERS) as served:
        users = two_users(served, (2, 2, 2, 0))
        path = write_fleet(tmp_path, served, users)
        text = path.read_text(encoding="utf-8").replace(served.cloud.url("csbs", CSBS_NL), closed_port())
        path.write_text(text, encoding="utf-8")
        run = fleet(path, sign_ins(served, USERS))
    assert run.code == 0
    assert by_name(run)["b-csbs"]["exit_code"] == 0 and by_name(run)["b-csbs"]["calls"] == {}
    assert [e["target"] for e in run.named("plan_empty")] == ["b-csbs"]


def test_an_approvable_plan_in_a_fleet_is_checked_backup_by_backup(tmp_path: Path, fleet: Fleet,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A target runs a plan made by `plan --approvable`: the run warns that no digest was checked
    (plan_not_approved), and a backup given another resource since the plan is not deleted (changed_since_plan,
    the target exits 1); the others are deleted."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("keep:\n  last: 1\n", encoding="utf-8")
    with fleet_on_loopback(SITES, USERS) as served:
        served.call(served.cloud.seed_random, "csbs", CSBS_EP, P1, 6)
        env = {"CSBS_ENDPOINT": served.cloud.url("csbs", CSBS_EP), "CSBS_PROJECT_ID": P1,
               "CSBS_AUTH_TOKEN": served.cloud.token("acct-a")}
        made = run_worker(["plan", "--policy", str(policy), "--approvable"], env, monkeypatch, capsys)
        assert made.code == 0
        planned = yaml.safe_load(made.stdout)["planned"]
        target = Target("a-approved", "csbs", CSBS_EP, P1)
        path = write_fleet(tmp_path, served, {"acct-a": [target]})
        (tmp_path / "a-approved.txt").write_text(made.stdout, encoding="utf-8")
        emulator = served.cloud.emulator("csbs", CSBS_EP)
        served.call(lambda: emulator.replace_identity(planned[0]["backup_id"], resource_id="another-server",
                                                      project=P1))
        run = fleet(path, sign_ins(served, ["acct-a"]))
    assert run.code == 1
    rows = by_name(run)["a-approved"]["results"]
    changed = [row for row in rows if row["outcome"] == "not_attempted"]
    assert [row["checkpoint_item"] for row in changed] == [planned[0]["backup_id"]]
    assert changed[0]["error_code"] == "changed_since_plan"
    assert {row["outcome"] for row in rows} - {"not_attempted"} == {"deleted"}
    assert run.named("plan_not_approved")


def test_a_fleet_report_into_a_closed_pipe_keeps_the_runs_exit_code() -> None:
    """`fleet --report - | head`: the report's reader leaving is no failure of the run (as for delete): the
    dry run of the example fleet ends 0, quietly."""
    code, stderr = run_with_reader_gone(["fleet", "--emulator", "--dry-run", str(EXAMPLE), "--report", "-"], {})
    assert code == 0, stderr[-3000:]
    assert summary(assert_quiet(stderr, "report"))["exit_code"] == 0


def test_a_plan_above_its_targets_max_deletions_stops_the_whole_fleet(tmp_path: Path, fleet: Fleet) -> None:
    """acct-b's plan holds 3 deletions, its target allows 2: exit 2 naming the target, no DELETE anywhere."""
    with fleet_on_loopback(SITES, USERS) as served:
        users = two_users(served, (2, 2, 2, 3))
        users["acct-b"][0].extra["max_deletions"] = 2
        path = write_fleet(tmp_path, served, users)
        run = fleet(path, sign_ins(served, USERS))
        deletes = sum(served.requests(site.service, site.endpoint, "delete") for site in SITES)
    assert run.code == 2 and deletes == 0
    assert "target b-csbs: the plan holds 3 deletion tasks, more than max_deletions 2" in run.stderr
