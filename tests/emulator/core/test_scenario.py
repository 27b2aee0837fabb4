"""Scenario values and files, the same on both faces: credentials and fault rules read from YAML, overrides,
and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.emulator.sides import Side
from worker.emulator import AccessKey, IamUser, ScenarioError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_values_become_typed_fields(side: Side, tmp_path: Path) -> None:
    """Lists become sets and tuples, a numeric fault kind or project id becomes text, mappings objects."""
    path = write(tmp_path, f"""
project_id: 1234
delete_duration_s: [0.1, 0.2]
fail_items: [a, b]
tokens: {{T: user-1}}
users: [{{name: alice, password: pw, domain: acme}}]
access_keys: [{{ak: AK, sk: SK}}]
faults:
  - {{route: {side.routes["list"]}, kind: 429, times: 1}}
""")
    s = side.scenario.from_yaml(path)
    assert (s.project_id, s.delete_duration_s) == ("1234", (0.1, 0.2))
    assert s.fail_items == frozenset({"a", "b"}) and s.tokens == {"T": "user-1"}
    assert (s.users, s.access_keys) == ((IamUser("alice", "pw", "acme"),), (AccessKey("AK", "SK"),))
    assert s.faults == (side.rule(side.routes["list"], "429", times=1),)


def test_overrides_win_over_the_file(side: Side, tmp_path: Path) -> None:
    """Keyword overrides (from flags) replace the file's values."""
    s = side.scenario.from_yaml(write(tmp_path, "project_id: P\nstatus_lag_s: 2\n"), status_lag_s=5.0)
    assert s.status_lag_s == 5.0


@pytest.mark.parametrize(("text", "message"), [
    ("project_id: P\ngone_modes: deleted\n", "unknown scenario key(s): gone_modes"),
    ("project_id: P\nfaults: [{route: '*', kind: 500, often: 1}]\n", "unknown key(s): often"),
    ("project_id: P\nusers: [{name: a, password: b, domian: c}]\n", "unknown key(s): domian"),
    ("project_id: P\ntokens: [a, b]\n", "tokens must map"),
    ("status_lag_s: 1\n", "project_id is required"),
    ("project_id: P\nfail_rate: 2\n", "fail_rate"),
    ("project_id: P\ndelete_duration_s: [5, 1]\n", "delete_duration_s"),
    ("project_id: P\ndelete_duration_s: [1]\n", "delete_duration_s must be [min, max]"),
    ("project_id: P\nak_lock_s: -1\n", "ak_lock_s must not be negative"),
    ("project_id: P\nfaults: [{route: upload, kind: 500}]\n", "fault route"),
    ("project_id: P\nfaults: [{route: '*', kind: 418}]\n", "fault kind"),
    ("project_id: P\nfaults: [{route: '*', kind: 500, rate: 2}]\n", "fault rate"),
    ("project_id: P\nfaults: [{route: '*', kind: 500, times: -1}]\n", "must not be negative"),
    ("- project_id\n", "must be a mapping"),
])
def test_bad_files_name_the_file_and_the_problem(side: Side, tmp_path: Path, text: str, message: str) -> None:
    """Unknown keys and impossible values fail with a message naming the file and the key."""
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        side.scenario.from_yaml(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_file_is_a_scenario_error(side: Side, tmp_path: Path) -> None:
    """A file that cannot be read is a ScenarioError naming it."""
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        side.scenario.from_yaml(tmp_path / "nowhere.yaml")


def test_secrets_stay_out_of_reprs(side: Side) -> None:
    """Passwords, secret keys and tokens do not appear in a scenario's repr."""
    s = side.scenario(project_id="P", tokens={"tok-secret": "u"}, users=(IamUser("n", "pw-secret", "d"),),
                      access_keys=(AccessKey("AK", "sk-secret", security_token="sts-secret"),))
    assert not any(secret in repr(s) for secret in ("tok-secret", "pw-secret", "sk-secret", "sts-secret"))
