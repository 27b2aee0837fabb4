"""Bad plans and settings stop the run with exit 2, a message naming the place, and no request sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.contract.conftest import per_service
from tests.harness import TOKEN, Run, cloud_env, new_id
from tests.services import Service

GOOD = "6f1c8a52-3d4e-4b8f-9a0b-1c2d3e4f5a6b"  # a CSBS record, or any UUID as a CBR backup id
ITEM = "3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f"
BACKUP = "6df2b54c-dd62-4059-a07c-1b8f24f2725d"
OTHER_PROJECT = "ffffffffffffffffffffffffffffffff"
# the backup each service's emulator holds, which a bad plan names
KNOWN: dict[str, dict[str, Any]] = {"csbs": {"key": ITEM, "checkpoint_id": GOOD}, "cbr": {"key": BACKUP}}

BAD_PLANS = {
    # (what, plan text, file name, words the message must hold)
    "csbs": [
        ("syntax", "deletions:\n  - checkpoint_id: [unclosed\n", "plan.yaml", ["plan.yaml:"]),
        ("unknown key", f"deletions:\n  - checkpoint_id: {GOOD}\n    checkpoint_itms: [{ITEM}]\n", "plan.yaml",
         ["plan.yaml:3", "checkpoint_itms"]),
        ("bad id", "deletions:\n  - checkpoint_id: abc\n", "plan.yaml", ["plan.yaml:2", "abc"]),
        ("empty checkpoint_items", f"deletions:\n  - checkpoint_id: {GOOD}\n    checkpoint_items: []\n",
         "plan.yaml", ["plan.yaml:", "checkpoint_items"]),
        ("other project", f"project_id: {OTHER_PROJECT}\ndeletions:\n  - checkpoint_id: {GOOD}\n",
         "plan.yaml", ["plan.yaml:1", OTHER_PROJECT]),
        ("bad text line", f"{GOOD} {ITEM}\n{GOOD} not-a-uuid\n", "plan.txt", ["plan.txt:2", "not-a-uuid"]),
    ],
    "cbr": [
        ("syntax", "deletions:\n  - backup_id: [unclosed\n", "plan.yaml", ["plan.yaml:"]),
        ("bad id", f"deletions:\n  - backup_id: {BACKUP}\n  - backup_id: abc\n", "plan.yaml",
         ["plan.yaml:3", "abc"]),
        ("unknown key", f"deletions:\n  - backup_id: {BACKUP}\n    vault: {GOOD}\n", "plan.yaml",
         ["plan.yaml:3", "vault"]),
        ("bad vault id", f"deletions:\n  - backup_id: {BACKUP}\n    vault_id: nope\n", "plan.yaml",
         ["plan.yaml:3", "nope"]),
        ("other project", f"service: cbr\nproject_id: {OTHER_PROJECT}\ndeletions:\n  - backup_id: {BACKUP}\n",
         "plan.yaml", ["plan.yaml:2", OTHER_PROJECT]),
        ("bad text line", f"{BACKUP}\nnot-a-uuid\n", "plan.txt", ["plan.txt:2", "not-a-uuid"]),
        ("json line without backup_id", json.dumps({"backup_id": BACKUP}) + "\n" + json.dumps({"vault_id": GOOD})
         + "\n", "plan.jsonl", ["plan.jsonl:2", "backup_id"]),
    ],
}


@per_service(("what", "text", "name", "words"), BAD_PLANS)
def test_bad_plan_file(service: Service, what: str, text: str, name: str, words: list[str],
                       worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """Each kind of bad plan gives exit 2, names file and line, and not a request reaches the cloud."""
    with service.serve() as cloud:
        cloud.add(**KNOWN[service.name])
        run = worker(["delete", *service.flags, write_plan(text, name)], cloud_env(cloud.url))
        sent = cloud.requests()
    assert run.code == 2, what
    assert sent == 0
    message = run.named("bad_input")[0]["error"]
    for word in words:
        assert word in message, message


OTHER_SERVICES_PLANS = {
    # a plan made for the other service, run with this one: (what, plan text, file name, words)
    "csbs": [
        ("service cbr", f"service: cbr\ndeletions:\n  - backup_id: {BACKUP}\n", "plan.yaml",
         ["plan.yaml:1", "--service cbr"]),
        ("backup_id entries", f"deletions:\n  - backup_id: {BACKUP}\n", "plan.yaml", ["plan.yaml:2", "--service cbr"]),
        ("json lines backup", json.dumps({"backup_id": BACKUP}) + "\n", "plan.jsonl",
         ["plan.jsonl:1", "--service cbr"]),
    ],
    "cbr": [
        ("yaml record", f"deletions:\n  - checkpoint_id: {GOOD}\n    checkpoint_items: [{ITEM}]\n", "plan.yaml",
         ["plan.yaml:2", "CSBS backup record", "--service csbs"]),
        ("service csbs", f"service: csbs\ndeletions:\n  - backup_id: {BACKUP}\n", "plan.yaml",
         ["plan.yaml:1", "csbs"]),
        ("text record and item", f"{GOOD} {ITEM}\n", "plan.txt", ["plan.txt:1"]),
        ("json lines record", json.dumps({"checkpoint_id": GOOD, "checkpoint_items": [ITEM]}) + "\n", "plan.jsonl",
         ["plan.jsonl:1", "CSBS backup record"]),
    ],
}


@per_service(("what", "text", "name", "words"), OTHER_SERVICES_PLANS)
def test_a_plan_for_the_other_service_is_refused(service: Service, what: str, text: str, name: str,
                                                 words: list[str], worker: Callable[..., Run],
                                                 write_plan: Callable[..., str]) -> None:
    """A plan made for the other service (its `service:`, its entries, its text lines): exit 2 naming the
    file and line (and which --service to use), not a request sent, nothing deleted."""
    with service.serve() as cloud:
        known = cloud.add(**KNOWN[service.name])
        run = worker(["delete", *service.flags, write_plan(text, name)], cloud_env(cloud.url))
        sent = cloud.requests()
        still = cloud.exists(known)
    assert run.code == 2, what
    assert sent == 0 and still
    message = run.named("bad_input")[0]["error"]
    for word in words:
        assert word in message, message


def test_one_bad_line_among_good_ones_on_stdin(service: Service, worker: Callable[..., Run]) -> None:
    """A single bad line in a long stdin plan stops everything before the first request, naming <stdin>:line."""
    with service.serve() as cloud:
        lines = [b.text for b in cloud.seed(30)]
        lines.insert(20, "zzzz-not-an-id")
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin="\n".join(lines) + "\n")
        sent = cloud.requests()
    assert run.code == 2
    assert sent == 0
    assert "<stdin>:21" in run.named("bad_input")[0]["error"]


def test_the_plans_project_must_be_the_configured_one(service: Service, worker: Callable[..., Run],
                                                      write_plan: Callable[..., str]) -> None:
    """A plan that names this project (and this service) runs; the project is checked before anything is sent."""
    with service.serve() as cloud:
        plan = write_plan(service.yaml_plan([cloud.add()], header=True))
        run = worker(["delete", *service.flags, plan], cloud_env(cloud.url))
    assert run.code == 0
    assert run.report is not None and run.report["counts"]["deleted"] == 1


def test_missing_plan_file(service: Service, worker: Callable[..., Run], tmp_path: Path) -> None:
    """A plan file that does not exist is exit 2 naming it."""
    with service.serve() as cloud:
        run = worker(["delete", *service.flags, str(tmp_path / "nope.yaml")], cloud_env(cloud.url))
        sent = cloud.deletes()
    assert run.code == 2
    assert sent == 0
    assert "nope.yaml" in run.named("bad_input")[0]["error"]


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({}, ["no sign-in method"]),
        ({"CSBS_AUTH_TOKEN": TOKEN, "HUAWEICLOUD_SDK_AK": "AK", "HUAWEICLOUD_SDK_SK": "SK"},
         ["several sign-in methods", "AK/SK", "CSBS_AUTH_TOKEN"]),
        ({"HUAWEICLOUD_SDK_AK": "AK"}, ["HUAWEICLOUD_SDK_SK"]),
        ({"CSBS_PASSWORD": "pw"}, ["password login needs", "CSBS_IAM_ENDPOINT"]),
    ],
    ids=["none", "several", "half-aksk", "password-incomplete"],
)
def test_sign_in_must_be_exactly_one(service: Service, env: dict[str, str], words: list[str],
                                     worker: Callable[..., Run]) -> None:
    """None, several or half a sign-in method is exit 2 with a message saying what was found."""
    with service.serve() as cloud:
        full = {"CSBS_ENDPOINT": cloud.url, "CSBS_PROJECT_ID": "0123456789abcdef0123456789abcdef", **env}
        run = worker(["delete", *service.flags, "-"], full, stdin=f"{GOOD}\n")
        sent = cloud.deletes()
    assert run.code == 2
    assert sent == 0
    message = run.named("bad_input")[0]["error"]
    for word in words:
        assert word in message
    for secret in ("pw", TOKEN):
        if secret in env.values():
            assert f"'{secret}'" not in run.stderr and f"\"{secret}\"" not in run.stderr


def test_missing_endpoint_and_bad_setting(service: Service, worker: Callable[..., Run]) -> None:
    """No endpoint is exit 2 naming the setting; a malformed value names the flag."""
    run = worker(["delete", *service.flags, "-"], {"CSBS_AUTH_TOKEN": TOKEN, "CSBS_PROJECT_ID": "p"},
                 stdin=f"{GOOD}\n")
    assert run.code == 2
    assert "endpoint" in run.named("bad_input")[0]["error"]
    run = worker(["delete", *service.flags, "--concurrency", "0", "-"], {"CSBS_AUTH_TOKEN": TOKEN}, stdin="")
    assert run.code == 2
    assert "--concurrency" in run.stderr


def test_config_file_secret_is_refused(service: Service, worker: Callable[..., Run],
                                       write_plan: Callable[..., str]) -> None:
    """A secret in the config file is refused (secrets come only from the environment), naming file and line."""
    config = write_plan("endpoint: https://csbs.example\npassword: hunter2\n", "config.yaml")
    run = worker(["delete", *service.flags, "--config", config, "-"], {"CSBS_AUTH_TOKEN": TOKEN}, stdin="")
    assert run.code == 2
    assert "config.yaml:2" in run.stderr
    assert "hunter2" not in run.stderr


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--policy", "p.yaml", "plan.yaml"], "not both"),
        (["--explain", "e.json", "-"], "--explain goes with --policy"),
        (["--emulator-scenario", "s.yaml", "-"], "--emulator-scenario goes with --emulator"),
    ],
    ids=["policy-and-plan", "explain-alone", "scenario-alone"],
)
def test_contradictory_options(service: Service, argv: list[str], words: str, worker: Callable[..., Run]) -> None:
    """Options that contradict each other are exit 2 before anything is read or sent."""
    run = worker(["delete", *service.flags, *argv], {"CSBS_AUTH_TOKEN": TOKEN})
    assert run.code == 2
    assert words in run.named("bad_input")[0]["error"]


def test_unknown_service_is_refused(worker: Callable[..., Run], capsys: pytest.CaptureFixture[str]) -> None:
    """A service other than csbs or cbr is a usage error (exit 2), as a flag or from the environment."""
    run = worker(["delete", "-"], {**cloud_env("http://127.0.0.1:9"), "CSBS_SERVICE": "vbs"}, stdin=f"{new_id()}\n")
    assert run.code == 2
    assert "vbs" in run.stderr
    with pytest.raises(SystemExit) as exited:
        worker(["delete", "--service", "vbs", "-"], cloud_env("http://127.0.0.1:9"), stdin=f"{new_id()}\n")
    assert exited.value.code == 2
    assert "invalid choice: 'vbs'" in capsys.readouterr().err
