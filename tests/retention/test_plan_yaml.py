"""The plan's YAML is exactly what PyYAML writes, whichever way it is written (``worker.retention.plan_yaml``)."""

from __future__ import annotations

import uuid
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.retention.plan_yaml import dump_plan, plain_plan

ODD = ["None", "null", "yes", "No", "on", "~", "123", "0b101", "0x1f", "1_000", "1.5", "2026-01-01", "a b", "",
       "x:y", "-x", "#x", "[x]", "x,y", "Ü", "'q'", "\"q\"", "0123456789abcdef0123456789abcdef",
       "01234567890123456789012345678901", "6513270E-269E-4D37-B2A7-4DE452E6B438", "x" * 600]
ids = st.one_of(st.uuids().map(str), st.uuids().map(str), st.sampled_from(ODD), st.text(max_size=8))
csbs_entries = st.fixed_dictionaries({"checkpoint_id": ids, "checkpoint_items": st.lists(ids, max_size=4)})
cbr_entries = st.fixed_dictionaries({"backup_id": ids, "vault_id": ids})


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    """A plan as `plan` makes it (CSBS or CBR), with an id of any kind here and there."""
    cbr = draw(st.booleans())
    document: dict[str, Any] = {"service": "cbr"} if cbr else {}
    if draw(st.booleans()):
        document["project_id"] = draw(st.one_of(st.just("0123456789abcdef0123456789abcdef"), ids))
    document["deletions"] = draw(st.lists(cbr_entries if cbr else csbs_entries, max_size=6))
    return document


def pyyaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=1000)


@settings(max_examples=300, deadline=None)
@given(plans())
def test_every_plan_comes_out_as_pyyaml_writes_it(document: dict[str, Any]) -> None:
    """Any plan, plain or odd, is written exactly as yaml.safe_dump writes it with the plan's options."""
    assert dump_plan(document) == pyyaml(document)


def test_a_plan_of_uuids_is_written_directly() -> None:
    """A plan whose ids are UUIDs, CSBS or CBR, empty or not, is written without PyYAML, as PyYAML would."""
    uuids = [str(uuid.UUID(int=n, version=4)) for n in range(1, 8)]
    documents: list[dict[str, Any]] = [
        {"project_id": "0123456789abcdef0123456789abcdef",
         "deletions": [{"checkpoint_id": uuids[0], "checkpoint_items": uuids[1:4]},
                       {"checkpoint_id": uuids[4], "checkpoint_items": [uuids[5]]}]},
        {"service": "cbr", "project_id": "0123456789abcdef0123456789abcdef",
         "deletions": [{"backup_id": uuids[0], "vault_id": uuids[1]}, {"backup_id": uuids[2], "vault_id": "None"}]},
        {"service": "cbr", "deletions": []},
        {"deletions": []},
    ]
    for document in documents:
        assert plain_plan(document) == pyyaml(document)


def test_a_line_wider_than_pyyaml_writes_goes_to_pyyaml() -> None:
    """A record of so many backups that PyYAML wraps its line is left to PyYAML."""
    items = [str(uuid.UUID(int=n, version=4)) for n in range(1, 40)]
    document = {"deletions": [{"checkpoint_id": items[0], "checkpoint_items": items}]}
    assert plain_plan(document) is None
    assert dump_plan(document) == pyyaml(document)
