"""Scenario values and files: defaults, YAML loading, and clear errors for unknown keys or bad values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from worker.emulator import FaultRule, Scenario, ScenarioError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "scenario.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_only_project_id_is_required():
    """A scenario needs a project id; everything else has a documented default."""
    s = Scenario(project_id="P")
    assert (s.tasks_per_user, s.gone_mode, s.busy_mode, s.status_lag_s) == (5, "404", "400", 0.0)
    assert s.provider_id == "fc4d5750-22e7-4798-8a46-f48f62c4c1da"


def test_example_file_loads_and_documents_every_key():
    """config/scenario.example.yaml is a valid scenario that names every scenario key."""
    s = Scenario.from_yaml(EXAMPLE)
    keys = set(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    assert keys == {f.name for f in dataclasses.fields(Scenario)}
    assert s.faults[0] == FaultRule("delete", "429-retry-after", rate=0.05, retry_after_s=2)
    assert s.users[0].queue_user == "demo-user"


def test_yaml_values_become_typed_fields(tmp_path):
    """Lists become sets and tuples, a numeric fault kind and gone_mode become text."""
    path = write(tmp_path, """
project_id: P
gone_mode: 404
busy_mode: 409
delete_duration_s: [0.1, 0.2]
fail_items: [a, b]
tokens: {T: user-1}
faults:
  - {route: list, kind: 429, times: 1}
""")
    s = Scenario.from_yaml(path)
    assert (s.gone_mode, s.busy_mode, s.delete_duration_s) == ("404", "409", (0.1, 0.2))
    assert s.fail_items == frozenset({"a", "b"}) and s.tokens == {"T": "user-1"}
    assert s.faults == (FaultRule("list", "429", times=1),)


def test_overrides_win_over_the_file(tmp_path):
    """Keyword overrides (from flags) replace the file's values."""
    s = Scenario.from_yaml(write(tmp_path, "project_id: P\nstatus_lag_s: 2\n"), status_lag_s=5.0)
    assert s.status_lag_s == 5.0


@pytest.mark.parametrize(("text", "message"), [
    ("project_id: P\ngone_modes: deleted\n", "unknown scenario key(s): gone_modes"),
    ("project_id: P\nfaults: [{route: list, kind: 500, often: 1}]\n", "unknown key(s): often"),
    ("project_id: P\nusers: [{name: a, password: b, domian: c}]\n", "unknown key(s): domian"),
    ("status_lag_s: 1\n", "project_id is required"),
    ("project_id: P\ngone_mode: '410'\n", "gone_mode"),
    ("project_id: P\nfail_rate: 2\n", "fail_rate"),
    ("project_id: P\ndelete_duration_s: [5, 1]\n", "delete_duration_s"),
    ("project_id: P\nfaults: [{route: upload, kind: 500}]\n", "fault route"),
    ("project_id: P\nfaults: [{route: list, kind: 418}]\n", "fault kind"),
    ("- project_id\n", "must be a mapping"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path, text, message):
    """Unknown keys and impossible values fail with a message naming the file and the key."""
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_yaml(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_secrets_stay_out_of_reprs():
    """Passwords, secret keys and tokens do not appear in a scenario's repr."""
    from worker.emulator import AccessKey, IamUser

    s = Scenario(project_id="P", tokens={"tok-secret": "u"}, users=(IamUser("n", "pw-secret", "d"),),
                 access_keys=(AccessKey("AK", "sk-secret", security_token="sts-secret"),))
    assert not any(secret in repr(s) for secret in ("tok-secret", "pw-secret", "sk-secret", "sts-secret"))
