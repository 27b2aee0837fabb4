"""An empty plan is one thing however it is written: exit 0, a ``plan_empty`` warning, and no cloud asked.

Nothing to delete needs no cloud: no preflight, no emulator, so a plan that names nothing is exit 0 even
against an endpoint that cannot be reached. It is still checked as any plan is (its project, its service,
the settings), so a plan for another project is refused whether or not it names a backup.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.harness import PROJECT, TOKEN, Run, closed_port, cloud_env
from tests.services import Service

OTHER_PROJECT = "ffffffffffffffffffffffffffffffff"

# (what, the plan's text: "{service}" is the run's service, flags)
EMPTY_PLANS = [
    ("an empty file", "", []),
    ("blank lines", "\n  \n\t\n", []),
    ("only comments", "# the policy found nothing today\n", []),
    ("---", "---\n", []),
    ("...", "...\n", []),
    ("--- then ...", "--- # nothing\n...\n", []),
    ("null", "null\n", []),
    ("~", "~  # nothing\n", []),
    ("Null", "Null\n", []),
    ("[]", "[]\n", []),
    ("{}", "{}\n", []),
    ("deletions: []", "deletions: []\n", []),
    ("deletions with nothing", "deletions:\n", []),
    ("deletions: null", "deletions: null\n", []),
    ("a whole header", "service: {service}\nproject_id: " + PROJECT + "\ndeletions: []\n", []),
    ("a JSON document", '{"project_id": "' + PROJECT + '", "deletions": []}\n', []),
    ("JSON Lines, only comments", "# no entries\n", ["--format", "jsonl"]),
    ("text, only comments", "# no entries\n\n", ["--format", "text"]),
    ("YAML forced, null", "null\n", ["--format", "yaml"]),
]


@pytest.mark.parametrize(("what", "text", "flags"), EMPTY_PLANS, ids=[case[0] for case in EMPTY_PLANS])
def test_every_spelling_of_an_empty_plan_is_exit_0_and_asks_the_cloud_nothing(
        service: Service, what: str, text: str, flags: list[str], worker: Callable[..., Run],
        write_plan: Callable[..., str]) -> None:
    """However a plan says "nothing", the run ends with exit 0, a plan_empty warning, a report of no task,
    and not one request to the cloud."""
    plan = write_plan(text.replace("{service}", service.name), "plan")
    with service.serve() as cloud:
        cloud.add()
        run = worker(["delete", *service.flags, *flags, plan], cloud_env(cloud.url))
        received = cloud.requests()
    assert run.code == 0, run.stderr[-2000:]
    assert [event["level"] for event in run.named("plan_empty")] == ["warning"]
    assert received == 0
    assert run.report is not None and run.report["exit_code"] == 0 and run.report["results"] == []


@pytest.mark.parametrize("dry_run", [False, True], ids=["delete", "dry run"])
def test_an_empty_plan_against_an_unreachable_endpoint_is_exit_0(service: Service, dry_run: bool,
                                                                 worker: Callable[..., Run]) -> None:
    """A plan that names nothing, against a closed loopback port: nothing to do, so exit 0 with the report
    written (the endpoint is checked by the first run that has something to delete)."""
    run = worker(["delete", *service.flags, *(["--dry-run"] if dry_run else []), "-"], cloud_env(closed_port()),
                 stdin="# nothing\n")
    assert run.code == 0, run.stderr[-2000:]
    assert run.named("run_failed") == [] and run.named("preflight_ok") == []
    assert run.named("plan_empty")
    assert run.report is not None
    assert run.report["exit_code"] == 0 and run.report["calls"] == {} and run.report["results"] == []


def test_an_empty_plan_starts_no_emulator(service: Service, worker: Callable[..., Run]) -> None:
    """`delete --emulator` of an empty plan: exit 0, and no emulator was needed."""
    run = worker(["delete", *service.flags, "--emulator", "-"], {}, stdin="null\n")
    assert run.code == 0, run.stderr[-2000:]
    assert run.named("emulator_started") == []
    assert run.named("plan_empty")


@pytest.mark.parametrize(("what", "text", "words"), [
    ("another project", f"project_id: {OTHER_PROJECT}\ndeletions: []\n", [OTHER_PROJECT]),
    ("a header without deletions", f"project_id: {PROJECT}\n", ["no 'deletions' list"]),
])
def test_an_empty_plan_is_still_checked(service: Service, what: str, text: str, words: list[str],
                                        worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """Naming nothing does not make a plan for another project right, nor a header cut before its
    deletions list: exit 2, naming the line."""
    plan = write_plan(text)
    with service.serve() as cloud:
        run = worker(["delete", *service.flags, plan], cloud_env(cloud.url))
        received = cloud.requests()
    assert run.code == 2, what
    assert received == 0
    message = run.named("bad_input")[0]["error"]
    assert f"{plan}:1" in message
    for word in words:
        assert word in message, message


def test_an_empty_plan_for_the_other_service_is_refused(service: Service, worker: Callable[..., Run],
                                                        write_plan: Callable[..., str]) -> None:
    """`service:` names the other service: refused as such (exit 2), entries or none."""
    other = "csbs" if service.name == "cbr" else "cbr"
    plan = write_plan(f"service: {other}\ndeletions: []\n")
    run = worker(["delete", *service.flags, plan], cloud_env(closed_port()))
    assert run.code == 2
    assert f"{plan}:1" in run.named("bad_input")[0]["error"]


def test_an_empty_plan_still_needs_the_settings(service: Service, worker: Callable[..., Run]) -> None:
    """The settings are checked before the plan is read: no endpoint is exit 2 even when the plan is empty,
    so a CronJob learns of its broken config on a quiet day."""
    run = worker(["delete", *service.flags, "-"], {"CSBS_AUTH_TOKEN": TOKEN, "CSBS_PROJECT_ID": PROJECT},
                 stdin="")
    assert run.code == 2
    assert "endpoint" in run.named("bad_input")[0]["error"]
