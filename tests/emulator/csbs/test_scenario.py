"""The CSBS scenario: its defaults, its example file, its own fields from YAML and their errors (what both
faces' scenarios share is in ``core/test_scenario.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from worker.emulator import FaultRule, OddStatus, Scenario, ScenarioError

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "scenario.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_only_project_id_is_required():
    """A scenario needs a project id; everything else has a documented default."""
    s = Scenario(project_id="P")
    assert (s.tasks_per_user, s.gone_mode, s.busy_mode, s.status_lag_s) == (5, "404", "400", 0.0)
    assert s.provider_id == "fc4d5750-22e7-4798-8a46-f48f62c4c1da"
    assert (s.progress_reported, s.busy_first_deletes) == (True, 0)


def test_example_file_loads_and_documents_every_key():
    """config/scenario.example.yaml is a valid scenario that names every scenario key."""
    s = Scenario.from_yaml(EXAMPLE)
    keys = set(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    assert keys == {f.name for f in dataclasses.fields(Scenario)}
    assert s.faults[0] == FaultRule("delete", "429-retry-after", rate=0.05, retry_after_s=2)
    assert s.users[0].queue_user == "demo-user"


def test_yaml_values_become_typed_fields(tmp_path):
    """The modes YAML reads as numbers become text; id lists sets; odd_status an object; the switches of a
    harder service their bool and count."""
    path = write(tmp_path, """
project_id: P
gone_mode: 404
busy_mode: 409
image_items: [a, b]
odd_status: {status: error-deleting, rate: 0.5}
progress_reported: false
busy_first_deletes: 2
""")
    s = Scenario.from_yaml(path)
    assert (s.gone_mode, s.busy_mode, s.image_items) == ("404", "409", frozenset({"a", "b"}))
    assert s.odd_status == OddStatus(rate=0.5)
    assert (s.progress_reported, s.busy_first_deletes) == (False, 2)


@pytest.mark.parametrize(("text", "message"), [
    ("project_id: P\ngone_mode: '410'\n", "gone_mode"),
    ("project_id: P\nbusy_mode: 500\n", "busy_mode"),
    ("project_id: P\nstuck_rate: 2\n", "stuck_rate"),
    ("project_id: P\nerror_shape: xml\n", "error_shape"),
    ("project_id: P\nodd_status: {status: x, rate: 3}\n", "odd_status rate"),
    ("project_id: P\nodd_status: {often: 1}\n", "unknown key(s): often"),
    ("project_id: P\nfaults: [{route: get_backup, kind: 500}]\n", "fault route"),
    ("project_id: P\nbusy_first_deletes: -1\n", "busy_first_deletes must be a whole number >= 0"),
    ("project_id: P\nbusy_first_deletes: 1.5\n", "busy_first_deletes must be a whole number >= 0"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path, text, message):
    """Unknown keys and impossible values fail with a message naming the file and the key."""
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_yaml(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
