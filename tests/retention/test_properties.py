"""Properties of the planner over generated histories and policies (hypothesis)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.retention.policy import Duration, KeepRules, Policy, Selection, Tag, parse_policy
from worker.retention.rules import decide, plan_document

ZONES = ["UTC", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia"]
STATUSES = ["available", "error", "protecting", "deleting", "waiting_delete", "restoring", "deleted"]
TAG_POOL = [Tag("retain", "true"), Tag("retain", "false"), Tag("legal", "hold")]
SERVERS = ["srv-a", "srv-b", "srv-c"]
# Instants on period edges: both DST changes in Berlin, New Year in ISO week 53, month ends.
EDGES = [
    datetime(2026, 10, 24, 23, 50),
    datetime(2026, 10, 25, 0, 45),
    datetime(2026, 10, 25, 1, 15),
    datetime(2026, 3, 29, 0, 45),
    datetime(2026, 3, 29, 1, 15),
    datetime(2026, 12, 31, 23, 30),
    datetime(2027, 1, 3, 23, 30),
    datetime(2020, 12, 31, 23, 0),
    datetime(2028, 2, 29, 12, 0),
    datetime(2026, 5, 31, 22, 30),
]

instants = st.one_of(
    st.sampled_from(EDGES),
    st.datetimes(min_value=datetime(2026, 10, 18), max_value=datetime(2026, 11, 8)),  # dense: shared buckets
    st.datetimes(min_value=datetime(2019, 12, 1), max_value=datetime(2028, 3, 31)),  # sparse: long spans
)


@st.composite
def created_at(draw: st.DrawFn) -> str:
    """An instant written as the API does (no zone), or with Z, or with an offset."""
    moment = draw(instants)
    style = draw(st.sampled_from(["naive", "zulu", "offset"]))
    if style == "naive":
        return moment.isoformat()
    if style == "zulu":
        return moment.isoformat() + "Z"
    offset = timezone(timedelta(hours=draw(st.integers(-12, 14))))
    return moment.replace(tzinfo=UTC).astimezone(offset).isoformat()


@st.composite
def checkpoint_item(draw: st.DrawFn) -> dict[str, Any]:
    """A checkpoint_item with a random server, status, name and tags."""
    tags = draw(st.lists(st.sampled_from(TAG_POOL), max_size=2))
    return {
        "id": str(draw(st.uuids())),
        "checkpoint_id": draw(st.sampled_from(["rec-1", "rec-2", "rec-3", "rec-4"])),
        "status": draw(st.sampled_from(["available"] * 4 + STATUSES)),
        "resource_id": draw(st.sampled_from(SERVERS)),
        "name": draw(st.sampled_from(["autobk_1", "manual_1"])),
        "created_at": draw(created_at()),
        "tags": [{"key": tag.key, "value": tag.value} for tag in tags],
        "extend_info": {"resource_name": draw(st.sampled_from(["web", "db", None]))},
    }


# Draw the length first: plain st.lists mostly yields a handful of items, too few for several periods.
histories = st.integers(0, 40).flatmap(
    lambda size: st.lists(checkpoint_item(), min_size=size, max_size=size, unique_by=lambda item: item["id"])
)
counts = st.sampled_from([0, 0, 0, 1, 2, 4])  # mostly off, so that plans do delete


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Any policy, including ones whose only rule is a tag."""
    spans = st.builds(Duration, st.integers(1, 40), st.sampled_from(["h", "d", "w", "m", "y"]))
    span = draw(st.one_of(st.none(), st.none(), spans))
    keep = KeepRules(
        last=draw(counts),
        hourly=draw(counts),
        daily=draw(counts),
        weekly=draw(counts),
        monthly=draw(counts),
        yearly=draw(counts),
        within=span,
        tags=tuple(draw(st.lists(st.sampled_from(TAG_POOL), unique=True, max_size=2))),
    )
    select = draw(
        st.sampled_from(
            [Selection(), Selection(name_prefix="autobk_"), Selection(resource_ids=frozenset({"srv-a", "srv-b"}))]
        )
    )
    return Policy(
        keep=keep,
        timezone=draw(st.sampled_from(ZONES).map(ZoneInfo)),
        group_by=draw(st.sampled_from(["resource_id", "resource_name", "none"])),
        select=select,
        min_keep=draw(st.integers(0, 3)),
    )


# No per-example deadline: a slow CI machine must not turn a property into a timing test.
property_settings = settings(deadline=None)


def _carries_policy_tag(item: dict[str, Any], policy: Policy) -> bool:
    return any({"key": tag.key, "value": tag.value} in item["tags"] for tag in policy.keep.tags)


def _listed(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


@property_settings
@given(histories, policies())
def test_a_tagged_backup_is_never_deleted_and_an_untagged_error_backup_never_kept(items, policy):
    """A backup carrying a policy tag is kept; an error backup is kept only for a tag."""
    by_id = _listed(items)
    for decision in decide(items, policy):
        if _carries_policy_tag(by_id[decision.id], policy):
            assert decision.keep
        elif by_id[decision.id]["status"] == "error":
            assert not decision.keep


@property_settings
@given(histories, policies())
def test_no_group_drops_below_min_keep_available_backups(items, policy):
    """Each group keeps at least min(min_keep, its available backups) available backups."""
    available: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    for decision in decide(items, policy):
        if decision.backup.status == "available":
            available[decision.group] += 1
            kept[decision.group] += decision.keep
    for group, total in available.items():
        assert kept[group] >= min(policy.min_keep, total)


@property_settings
@given(histories, policies())
def test_keep_and_delete_together_are_exactly_the_governed_backups(items, policy):
    """Every selected available/error backup gets one decision; no other backup gets any."""
    decisions = decide(items, policy)
    governed = [
        item["id"] for item in items if item["status"] in ("available", "error") and policy.select.matches(item)
    ]
    assert sorted(d.id for d in decisions) == sorted(governed)


@property_settings
@given(histories, policies())
def test_the_plan_lists_each_deleted_backup_once_under_its_record(items, policy):
    """The plan names exactly the deleted backups, each once, under its own checkpoint_id."""
    decisions = decide(items, policy)
    record_of = {item["id"]: item["checkpoint_id"] for item in items}
    listed = [
        (entry["checkpoint_id"], item_id)
        for entry in plan_document(decisions, None)["deletions"]
        for item_id in entry["checkpoint_items"]
    ]
    assert sorted(listed) == sorted((record_of[d.id], d.id) for d in decisions if not d.keep)


@property_settings
@given(histories, policies())
def test_planning_again_over_what_remains_deletes_nothing_more(items, policy):
    """After the deletions, the same policy keeps everything that is left (for any min_keep, even 0)."""
    doomed = {d.id for d in decide(items, policy) if not d.keep}
    remaining = [item for item in items if item["id"] not in doomed]
    assert [d.id for d in decide(remaining, policy) if not d.keep] == []


@property_settings
@given(st.data(), histories, policies())
def test_the_order_of_the_listing_does_not_matter(data, items, policy):
    """The decisions do not depend on the order the API listed the backups in."""
    shuffled = data.draw(st.permutations(items))
    assert decide(shuffled, policy) == decide(items, policy)


@settings(max_examples=50, deadline=None)
@given(policies())
def test_a_policy_written_as_yaml_reads_back_equal(policy):
    """Every policy the dataclasses can hold survives writing it as YAML and parsing it back."""
    if policy.keep.is_empty:
        return
    keep: dict[str, Any] = {name: count for name, count in (("last", policy.keep.last), *policy.keep.periods())}
    if policy.keep.within is not None:
        keep["within"] = str(policy.keep.within)
    keep["tags"] = [{"key": tag.key, "value": tag.value} for tag in policy.keep.tags]
    select: dict[str, Any] = {}
    if policy.select.resource_ids is not None:
        select["resource_ids"] = sorted(policy.select.resource_ids)
    if policy.select.name_prefix is not None:
        select["name_prefix"] = policy.select.name_prefix
    document = {
        "timezone": policy.timezone.key,
        "group_by": policy.group_by,
        "select": select,
        "keep": keep,
        "min_keep": policy.min_keep,
    }
    assert parse_policy(yaml.safe_dump(document), "<policy>") == policy
