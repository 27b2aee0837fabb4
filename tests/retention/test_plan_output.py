"""The planner's outputs: the plan document, its YAML, the explanation records and the deletion cap."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid

import pytest
import yaml

from tests.retention.builders import backup, policy
from worker.errors import PolicyError
from worker.plan import read_plan
from worker.retention.rules import check_max_deletions, decide, explain_records, plan_document, render_plan_yaml
from worker.services.planning import write_explain

# Two servers backed up together: each record holds one backup per server.
ITEMS = [
    backup("a1", "2026-05-01T08:00:00", resource_id="srv-a", checkpoint_id="rec-1"),
    backup("b1", "2026-05-01T08:00:01", resource_id="srv-b", checkpoint_id="rec-1"),
    backup("a2", "2026-05-02T08:00:00", resource_id="srv-a", checkpoint_id="rec-2"),
    backup("b2", "2026-05-02T08:00:01", resource_id="srv-b", checkpoint_id="rec-2", status="error"),
    backup("a3", "2026-05-03T08:00:00", resource_id="srv-a", checkpoint_id="rec-3"),
    backup("b3", "2026-05-03T08:00:01", resource_id="srv-b", checkpoint_id="rec-3"),
    backup("b0", "2026-04-30T08:00:00", resource_id="srv-b", checkpoint_id="rec-0", status="protecting"),
]
PROJECT = "0123456789abcdef0123456789abcdef"


def test_the_plan_names_each_deleted_backup_grouped_by_record_oldest_first():
    """Deleted backups are listed by id under their record, records and backups oldest first."""
    document = plan_document(decide(ITEMS, policy(last=1)), PROJECT)
    assert document == {
        "project_id": PROJECT,
        "deletions": [
            {"checkpoint_id": "rec-1", "checkpoint_items": ["a1", "b1"]},
            {"checkpoint_id": "rec-2", "checkpoint_items": ["a2", "b2"]},
        ],
    }


def test_without_a_project_the_key_is_left_out_and_nothing_due_gives_an_empty_list():
    """project_id None leaves the key out; a plan with nothing to delete has an empty list."""
    healthy = [item for item in ITEMS if item["status"] != "error"]
    assert plan_document(decide(healthy, policy(last=9)), None) == {"deletions": []}


def test_the_yaml_plan_reads_back_as_the_document_and_heads_with_counts():
    """render_plan_yaml gives YAML that loads to plan_document, after a comment with the counts."""
    decisions = decide(ITEMS, policy(last=1))
    text = render_plan_yaml(decisions, PROJECT)
    assert text.startswith("# retention plan: delete 4 of 6 governed backups in 2 records; keep 2\n")
    assert yaml.safe_load(text) == plan_document(decisions, PROJECT)
    assert "checkpoint_items: [a1, b1]" in text


def test_the_explanation_has_one_record_per_governed_backup():
    """explain_records lists every governed backup with its decision and reasons, and is JSON-ready."""
    records = explain_records(decide(ITEMS, policy(last=1, min_keep=1)))
    assert [r["id"] for r in records] == ["a3", "a2", "a1", "b3", "b2", "b1"]
    assert records[0] == {
        "id": "a3",
        "checkpoint_id": "rec-3",
        "name": "autobk_daily",
        "group": "srv-a",
        "created_at": "2026-05-03T08:00:00",
        "status": "available",
        "decision": "keep",
        "reasons": ["last 1", "min_keep"],
    }
    assert records[4]["decision"] == "delete"
    assert records[4]["reasons"] == ["error"]
    assert json.loads(json.dumps(records)) == records


@pytest.mark.parametrize(("cap", "refused"), [(None, False), (4, False), (3, True)])
def test_a_plan_above_max_deletions_is_refused(cap, refused):
    """check_max_deletions returns the count, or raises PolicyError naming the policy when above the cap."""
    decisions = decide(ITEMS, policy(last=1, max_deletions=cap))
    if refused:
        with pytest.raises(PolicyError, match=r"^test-policy\.yaml: the plan would delete 4 backups"):
            check_max_deletions(decisions, policy(last=1, max_deletions=cap))
    else:
        assert check_max_deletions(decisions, policy(last=1, max_deletions=cap)) == 4


def test_the_yaml_plan_is_what_csbs_worker_delete_reads():
    """The rendered plan, piped to `delete -`, reads as one task per deleted backup; an empty plan as none."""
    ids = [str(uuid.UUID(int=n, version=4)) for n in range(1, 7)]
    records = [str(uuid.UUID(int=100 + n, version=4)) for n in range(2)]
    items = [backup(ids[n], f"2026-05-0{n + 1}T08:00:00", checkpoint_id=records[n % 2]) for n in range(6)]
    text = render_plan_yaml(decide(items, policy(last=2)), PROJECT)
    tasks = list(read_plan(["-"], stdin=io.StringIO(text), project_id=PROJECT))
    assert [(t.container_id, t.backup_id) for t in tasks] == [
        (records[0], ids[0]),
        (records[0], ids[2]),
        (records[1], ids[1]),
        (records[1], ids[3]),
    ]
    nothing_due = render_plan_yaml(decide(items, policy(last=9)), None)
    assert list(read_plan(["-"], stdin=io.StringIO(nothing_due))) == []


@pytest.mark.parametrize("last", [1, 9])
def test_the_explanation_file_is_written_one_decision_at_a_time_as_json_dump_writes_it(tmp_path, last):
    """`--explain` streams its records, and its text is what json.dump(records, indent=2) writes (none too)."""
    decisions = decide(ITEMS, policy(last=last, min_keep=1, tags=[("k", "v")]))
    first = decisions[0]
    names: tuple[object, ...] = ({"nested": ["name", 1, None]}, None, 5.5, "näme", [])
    odd = [*decisions, *(dataclasses.replace(first, backup=dataclasses.replace(first.backup, id="o\"d\nd", name=name))
                         for name in names)]
    for written in (odd, []):
        path = tmp_path / "explain.json"
        write_explain(str(path), written)
        assert path.read_text(encoding="utf-8") == json.dumps(explain_records(written), indent=2)
