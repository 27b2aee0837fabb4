"""Bad plans and settings stop the run with exit 2, a message naming the place, and no DELETE sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.delete.conftest import new_id
from tests.harness import TOKEN, Run, cloud_env, emulator_on_loopback

GOOD = "6f1c8a52-3d4e-4b8f-9a0b-1c2d3e4f5a6b"
ITEM = "3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f"

BAD_PLANS = [
    # (what, plan text, file name, words the message must hold)
    ("syntax", "deletions:\n  - checkpoint_id: [unclosed\n", "plan.yaml", ["plan.yaml:"]),
    ("unknown key", f"deletions:\n  - checkpoint_id: {GOOD}\n    checkpoint_itms: [{ITEM}]\n", "plan.yaml",
     ["plan.yaml:3", "checkpoint_itms"]),
    ("bad id", "deletions:\n  - checkpoint_id: abc\n", "plan.yaml", ["plan.yaml:2", "abc"]),
    ("empty checkpoint_items", f"deletions:\n  - checkpoint_id: {GOOD}\n    checkpoint_items: []\n", "plan.yaml",
     ["plan.yaml:", "checkpoint_items"]),
    ("other project", f"project_id: ffffffffffffffffffffffffffffffff\ndeletions:\n  - checkpoint_id: {GOOD}\n",
     "plan.yaml", ["plan.yaml:1", "ffffffffffffffffffffffffffffffff"]),
    ("bad text line", f"{GOOD} {ITEM}\n{GOOD} not-a-uuid\n", "plan.txt", ["plan.txt:2", "not-a-uuid"]),
]


@pytest.mark.parametrize(("what", "text", "name", "words"), BAD_PLANS, ids=[case[0] for case in BAD_PLANS])
def test_bad_plan_file(what: str, text: str, name: str, words: list[str], worker: Callable[..., Run],
                       write_plan: Callable[..., str]) -> None:
    """Each kind of bad plan gives exit 2, names file and line, and zero DELETEs reach the cloud."""
    with emulator_on_loopback() as served:
        served.emulator.add_item(checkpoint_id=GOOD, item_id=ITEM)
        run = worker(["delete", write_plan(text, name)], cloud_env(served.url))
        sent = sum(served.emulator.stats.deletes_by_target.values())
    assert run.code == 2, what
    assert sent == 0
    message = run.named("bad_input")[0]["error"]
    for word in words:
        assert word in message


def test_one_bad_line_among_good_ones_on_stdin(worker: Callable[..., Run]) -> None:
    """A single bad line in a long stdin plan stops everything before the first DELETE, naming <stdin>:line."""
    with emulator_on_loopback() as served:
        lines = []
        for _ in range(30):
            checkpoint, item = new_id(), new_id()
            served.emulator.add_item(checkpoint_id=checkpoint, item_id=item)
            lines.append(f"{checkpoint} {item}")
        lines.insert(20, "zzzz-not-an-id")
        run = worker(["delete", "-"], cloud_env(served.url), stdin="\n".join(lines) + "\n")
        sent = sum(served.emulator.stats.deletes_by_target.values())
    assert run.code == 2
    assert sent == 0
    assert "<stdin>:21" in run.named("bad_input")[0]["error"]


def test_missing_plan_file(worker: Callable[..., Run], tmp_path: Path) -> None:
    """A plan file that does not exist is exit 2 naming it."""
    with emulator_on_loopback() as served:
        run = worker(["delete", str(tmp_path / "nope.yaml")], cloud_env(served.url))
        sent = sum(served.emulator.stats.deletes_by_target.values())
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
def test_sign_in_must_be_exactly_one(env: dict[str, str], words: list[str], worker: Callable[..., Run],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """None, several or half a sign-in method is exit 2 with a message saying what was found."""
    with emulator_on_loopback() as served:
        full = {"CSBS_ENDPOINT": served.url, "CSBS_PROJECT_ID": "0123456789abcdef0123456789abcdef", **env}
        run = worker(["delete", "-"], full, stdin=f"{GOOD}\n")
        sent = sum(served.emulator.stats.deletes_by_target.values())
    assert run.code == 2
    assert sent == 0
    message = run.named("bad_input")[0]["error"]
    for word in words:
        assert word in message
    for secret in ("pw", TOKEN):
        if secret in env.values():
            assert f"'{secret}'" not in run.stderr and f"\"{secret}\"" not in run.stderr


def test_missing_endpoint_and_bad_setting(worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """No endpoint is exit 2 naming the setting; a malformed value names the flag."""
    run = worker(["delete", "-"], {"CSBS_AUTH_TOKEN": TOKEN, "CSBS_PROJECT_ID": "p"}, stdin=f"{GOOD}\n")
    assert run.code == 2
    assert "endpoint" in run.named("bad_input")[0]["error"]
    run = worker(["delete", "--concurrency", "0", "-"], {"CSBS_AUTH_TOKEN": TOKEN}, stdin="")
    assert run.code == 2
    assert "--concurrency" in run.stderr


def test_config_file_secret_is_refused(worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """A secret in the config file is refused (secrets come only from the environment), naming file and line."""
    config = write_plan("endpoint: https://csbs.example\npassword: hunter2\n", "config.yaml")
    run = worker(["delete", "--config", config, "-"], {"CSBS_AUTH_TOKEN": TOKEN}, stdin="")
    assert run.code == 2
    assert "config.yaml:2" in run.stderr
    assert "hunter2" not in run.stderr


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["delete", "--policy", "p.yaml", "plan.yaml"], "not both"),
        (["delete", "--explain", "e.json", "-"], "--explain goes with --policy"),
        (["delete", "--emulator-scenario", "s.yaml", "-"], "--emulator-scenario goes with --emulator"),
    ],
    ids=["policy-and-plan", "explain-alone", "scenario-alone"],
)
def test_contradictory_options(argv: list[str], words: str, worker: Callable[..., Run]) -> None:
    """Options that contradict each other are exit 2 before anything is read or sent."""
    run = worker(argv, {"CSBS_AUTH_TOKEN": TOKEN})
    assert run.code == 2
    assert words in run.named("bad_input")[0]["error"]
