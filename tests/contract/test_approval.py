"""Approvable plans (docs/plans.md, "Approvable plans"), for each service: `plan --approvable` writes one and
names its digest, `delete --expect-digest` runs exactly that plan and refuses any other before anything is
sent, a backup replaced since the plan is not deleted, a finished plan run again deletes nothing, and
`show` tells a reviewer what the plan does."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness import PROJECT, Run, cloud_env
from tests.services import SERVICES, Cloud, Service
from worker.cli import main

SERVER_A = "5b3e0c9a-2d41-4f6e-8a7b-9c0d1e2f3a4b"
SERVER_B = "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
START = datetime(2026, 1, 1, tzinfo=UTC)
KEEP_TWO = "keep:\n  last: 2\n"


def seed(cloud: Cloud) -> tuple[list[str], list[str]]:
    """Two servers of 5 and 4 hourly backups; ``last: 2`` deletes the 3 and 2 oldest. Their keys by server."""
    a = [b.key for b in cloud.history(5, SERVER_A, START)]
    b = [b.key for b in cloud.history(4, SERVER_B, START + timedelta(minutes=30))]
    return a, b


def approvable(service: Service, worker: Callable[..., Run], policy: Callable[[str], str], env: dict[str, str],
               tmp_path: Path, *flags: str) -> tuple[str, str, Run]:
    """``plan --approvable`` into a file: its path, the digest it logged, and the run."""
    run = worker(["plan", *service.flags, "--policy", policy(KEEP_TWO), "--approvable", *flags], env, report=None)
    assert run.code == 0, run.stderr[-3000:]
    path = tmp_path / "approved.yaml"
    path.write_text(run.stdout, encoding="utf-8")
    return str(path), run.named("plan_digest")[0]["digest"], run


def show(capsys: pytest.CaptureFixture[str], path: str, *flags: str) -> tuple[int, str, str]:
    """``csbs-worker show PATH``: exit code, stdout and stderr."""
    code = main(["show", path, *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def shown_digest(capsys: pytest.CaptureFixture[str], path: str) -> str:
    code, out, _ = show(capsys, path)
    assert code == 0
    found = re.search(r"^  digest\s+([0-9a-f]{64})$", out, re.MULTILINE)
    assert found is not None, out
    return found.group(1)


def test_an_approved_plan_runs_and_running_it_again_deletes_nothing_new(
        service: Service, worker: Callable[..., Run], policy: Callable[[str], str], tmp_path: Path) -> None:
    """The plan states its service, project, endpoint, validity and what identified each backup; its digest is
    in its header and on stderr. Run with that digest it deletes exactly its backups (exit 0); run again, every
    one is `already_absent` and no DELETE is sent: a replayed plan deletes nothing that was not approved."""
    with service.serve() as cloud:
        a, b = seed(cloud)
        env = cloud_env(cloud.url)
        path, digest, plan = approvable(service, worker, policy, env, tmp_path)
        first = worker(["delete", *service.flags, "--expect-digest", digest, path], env)
        sent = cloud.deletes()
        again = worker(["delete", *service.flags, "--expect-digest", f"sha256:{digest.upper()}", path], env)
        sent_again = cloud.deletes()
        left = set(cloud.remaining())
    document = yaml.safe_load(plan.stdout)
    doomed = set(a[:3] + b[:2])
    assert document["service"] == service.name and document["project_id"] == PROJECT
    assert document["approval"]["endpoint"] == cloud.url.removeprefix("http://")
    made = datetime.fromisoformat(document["approval"]["made_at"])
    assert datetime.fromisoformat(document["approval"]["valid_until"]) - made == timedelta(days=1)
    assert {row["backup_id"] for row in document["planned"]} == doomed == set(service.planned(document))
    assert {row["resource_id"] for row in document["planned"]} == {SERVER_A, SERVER_B}
    assert all(row["created_at"] for row in document["planned"])
    assert {(row["resource_id"], row["kept"]) for row in document["kept"]} == {(SERVER_A, 2), (SERVER_B, 2)}
    assert f"# digest {digest}" in plan.stdout.splitlines()[:3]
    assert first.code == 0 and first.named("plan_approved")[0]["digest"] == digest
    assert first.report is not None and first.report["plan_digest"] == digest
    assert service.outcomes(first) == dict.fromkeys(doomed, "deleted")
    assert sent == 5 and not doomed & left and set(a[3:] + b[2:]) <= left
    assert again.code == 0
    assert service.outcomes(again) == dict.fromkeys(doomed, "already_absent")
    assert sent_again == sent


def expired(text: str) -> str:
    """The plan made two days ago and valid for one."""
    made, until = datetime.now(UTC) - timedelta(days=2), datetime.now(UTC) - timedelta(days=1)
    text = re.sub(r'made_at: "[^"]+"', f'made_at: "{made:%Y-%m-%dT%H:%M:%SZ}"', text)
    return re.sub(r'valid_until: "[^"]+"', f'valid_until: "{until:%Y-%m-%dT%H:%M:%SZ}"', text)


REFUSALS: dict[str, tuple[Callable[[str], str], str, str]] = {
    # case: (edit of the plan, how the run differs, words of the refusal)
    "another digest": (lambda text: text, "digest", "is not the plan that was approved"),
    "an edited plan": (lambda text: re.sub(r"kept: 2", "kept: 3", text, count=1), "", "not the plan that was"),
    "expired": (expired, "", "the plan expired at"),
    "another endpoint": (lambda text: text, "endpoint", "the plan was made at endpoint 127.0.0.1:"),
    "another project": (lambda text: text, "project", "differs from the configured project"),
    "another service": (lambda text: text, "service", "--service"),
    "a plan that is not approvable": (lambda text: text.split("planned:")[0].replace("approval:", "#"), "",
                                      "not an approvable plan"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_plan_other_than_the_approved_one_is_refused_before_anything_is_sent(
        case: str, service: Service, worker: Callable[..., Run], policy: Callable[[str], str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """With --expect-digest, a plan with another digest (another plan, or the approved one edited), an expired
    one, one for another endpoint, project or service, or one that is not approvable: exit 2, no report, and
    the cloud receives nothing at all."""
    edit, differs, words = REFUSALS[case]
    with service.serve() as cloud:
        seed(cloud)
        env = cloud_env(cloud.url)
        path, digest, _ = approvable(service, worker, policy, env, tmp_path)
        edited = Path(path).read_text(encoding="utf-8")
        Path(path).write_text(edit(edited), encoding="utf-8")
        if case == "expired":
            digest = shown_digest(capsys, path)  # the digest of what is run: only its validity is wrong
        flags: list[str] = list(service.flags)
        if differs == "digest":
            digest = digest[::-1]
        elif differs == "endpoint":
            env["CSBS_ENDPOINT"] = cloud.url.replace("127.0.0.1", "localhost")
        elif differs == "project":
            env["CSBS_PROJECT_ID"] = "f" * 32
        elif differs == "service":
            flags = list(next(other for other in SERVICES.values() if other is not service).flags) or [
                "--service", "csbs"]
        before = cloud.requests()
        run = worker(["delete", *flags, "--expect-digest", digest, path], env)
        after = cloud.requests()
    assert run.code == 2
    assert words in run.named("bad_input")[0]["error"]
    assert run.report is None
    assert after == before


def test_a_backup_replaced_since_the_plan_is_not_deleted(service: Service, worker: Callable[..., Run],
                                                          policy: Callable[[str], str], tmp_path: Path) -> None:
    """A planned backup that now shows another creation time, and one that now backs up another resource,
    are `not_attempted` with `changed_since_plan` (logged, counted, nothing sent for them); the others are
    deleted; exit 1."""
    with service.serve() as cloud:
        a, b = seed(cloud)
        env = cloud_env(cloud.url)
        path, digest, _ = approvable(service, worker, policy, env, tmp_path)
        emulator: Any = cloud.served.emulator
        cloud.read(lambda: emulator.replace_identity(a[0], created_at=START - timedelta(days=3)))
        cloud.read(lambda: emulator.replace_identity(b[1], resource_id=SERVER_A))
        run = worker(["delete", *service.flags, "--expect-digest", digest, path], env)
        sent = cloud.sent()
        left = set(cloud.remaining())
    changed = {a[0], b[1]}
    assert run.code == 1
    assert service.outcomes(run) == {**dict.fromkeys(a[1:3] + b[:1], "deleted"),
                                     **dict.fromkeys(changed, "not_attempted")}
    rows = service.rows(run)
    assert {rows[key]["error_code"] for key in changed} == {"changed_since_plan"}
    assert "created at" in rows[a[0]]["error_message"] and SERVER_A in rows[b[1]]["error_message"]
    assert rows[a[0]]["attempts"] == 0 and not changed & set(sent)
    assert changed <= left
    logged = run.named("task_not_attempted")
    assert {service.key_of(event) for event in logged} == changed
    assert {event["error_code"] for event in logged} == {"changed_since_plan"}
    assert run.named("run_summary")[0]["not_attempted"] == 2


def test_an_approvable_plan_run_without_a_digest_runs_with_a_warning(
        service: Service, worker: Callable[..., Run], policy: Callable[[str], str], tmp_path: Path) -> None:
    """Without --expect-digest an approvable plan runs as any plan, with a `plan_not_approved` warning naming
    its digest."""
    with service.serve() as cloud:
        seed(cloud)
        env = cloud_env(cloud.url)
        path, digest, _ = approvable(service, worker, policy, env, tmp_path)
        run = worker(["delete", *service.flags, path], env)
    assert run.code == 0
    assert [event["digest"] for event in run.named("plan_not_approved")] == [digest]
    assert run.named("run_summary")[0]["deleted"] == 5


def test_show_tells_the_reviewer_what_the_plan_keeps_and_deletes(
        service: Service, worker: Callable[..., Run], policy: Callable[[str], str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`show` prints the digest (the one `plan` printed, whatever the plan's layout and comments), the validity,
    and per server how many backups are kept and deleted, the oldest and newest kept, and the size freed where
    the service reports it (CSBS; CBR reports none)."""
    with service.serve() as cloud:
        seed(cloud)
        path, digest, plan = approvable(service, worker, policy, cloud_env(cloud.url), tmp_path, "--valid-for", "90m")
        kept = {row["resource_id"]: row for row in yaml.safe_load(plan.stdout)["kept"]}
        sizes = [row.get("size_mb") for row in yaml.safe_load(plan.stdout)["planned"]]
    code, out, _ = show(capsys, path)
    relaid = tmp_path / "relaid.yaml"  # the same content in block style, keys reordered, with comments
    document = yaml.safe_load(plan.stdout)
    relaid.write_text("# reviewed\n" + yaml.safe_dump(dict(reversed(document.items())), default_flow_style=False),
                      encoding="utf-8")
    assert code == 0
    assert shown_digest(capsys, str(relaid)) == digest
    assert f"digest    {digest}" in out and ("(1 h 29 min left)" in out or "(1 h 30 min left)" in out)
    assert "deletes   5 backups of 2 resources" in out and "keeps 4" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith((SERVER_A, SERVER_B))}
    assert lines[SERVER_A][2:4] == ["2", "3"] and lines[SERVER_B][2:4] == ["2", "2"]
    assert lines[SERVER_A][4:6] == [kept[SERVER_A]["oldest"], kept[SERVER_A]["newest"]]
    if service.name == "csbs":
        assert all(isinstance(size, int) for size in sizes) and "not reported" not in out
    else:
        assert sizes == [None] * 5 and "frees no size (CBR reports none)" in out


def test_show_refuses_a_plan_that_is_not_approvable(write_plan: Callable[..., str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A plain plan has no digest to show: exit 2, saying how to make an approvable one."""
    code, out, err = show(capsys, write_plan("deletions: []\n"))
    assert code == 2 and out == ""
    assert "not an approvable plan" in err and "--approvable" in err


@pytest.mark.parametrize(("flags", "words"), [(["--valid-for", "1h"], "--valid-for goes with --approvable"),
                                              (["--approvable", "--valid-for", "0h"], "like 24h")])
def test_a_validity_that_cannot_be_is_refused_before_listing(flags: list[str], words: str, service: Service,
                                                             worker: Callable[..., Run],
                                                             policy: Callable[[str], str]) -> None:
    """`--valid-for` without `--approvable`, or a validity that is no time: exit 2, nothing asked of the cloud."""
    with service.serve() as cloud:
        run = worker(["plan", *service.flags, "--policy", policy(KEEP_TWO), *flags], cloud_env(cloud.url),
                     report=None)
        asked = cloud.requests()
    assert run.code == 2 and run.stdout == "" and asked == 0
    assert words in run.named("bad_input")[0]["error"]
