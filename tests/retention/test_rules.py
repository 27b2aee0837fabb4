"""Table tests of each keep rule, of statuses, selection and grouping (times in UTC unless said)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.retention.builders import backup, deleted, kept, policy
from worker.retention.policy import Selection
from worker.retention.rules import decide

# One server's history: Dec 31 2025 lies in ISO week 2026-W01.
HISTORY = [
    backup("z", "2025-12-31T23:00:00"),
    backup("a", "2026-01-05T10:00:00"),
    backup("b", "2026-01-05T16:00:00"),
    backup("c", "2026-01-06T09:00:00.123456"),
    backup("d", "2026-01-20T09:00:00"),
    backup("e", "2026-02-02T09:00:00"),
    backup("f", "2026-02-02T09:30:00"),
    backup("g", "2026-02-02T10:15:00"),
]

RULE_TABLE = [
    ({"last": 2}, {"g": ["last 1"], "f": ["last 2"]}),
    ({"last": 20}, {i: [f"last {n}"] for n, i in enumerate("gfedcbaz", start=1)}),
    ({"hourly": 2}, {"g": ["hourly 2026-02-02T10"], "f": ["hourly 2026-02-02T09"]}),
    ({"daily": 3}, {"g": ["daily 2026-02-02"], "d": ["daily 2026-01-20"], "c": ["daily 2026-01-06"]}),
    ({"weekly": 3}, {"g": ["weekly 2026-W06"], "d": ["weekly 2026-W04"], "c": ["weekly 2026-W02"]}),
    (
        {"weekly": 9},
        {
            "g": ["weekly 2026-W06"],
            "d": ["weekly 2026-W04"],
            "c": ["weekly 2026-W02"],
            "z": ["weekly 2026-W01"],
        },
    ),
    ({"monthly": 2}, {"g": ["monthly 2026-02"], "d": ["monthly 2026-01"]}),
    ({"yearly": 5}, {"g": ["yearly 2026"], "z": ["yearly 2025"]}),
    ({"within": "1d"}, {"g": ["within"], "f": ["within"], "e": ["within"]}),
    ({"within": "14d"}, {"g": ["within"], "f": ["within"], "e": ["within"], "d": ["within"]}),
    (
        {"daily": 1, "weekly": 2, "last": 1},
        {"g": ["last 1", "daily 2026-02-02", "weekly 2026-W06"], "d": ["weekly 2026-W04"]},
    ),
]


@pytest.mark.parametrize(("rules", "expected"), RULE_TABLE, ids=[str(rules) for rules, _ in RULE_TABLE])
def test_each_rule_keeps_exactly_its_backups_and_says_why(rules, expected):
    """Each rule keeps the newest backup of each counted period (or the span), listing every reason."""
    decisions = decide(HISTORY, policy(**rules))
    assert kept(decisions) == expected
    assert set(deleted(decisions)) == {item["id"] for item in HISTORY} - set(expected)
    assert all(reasons == ["no rule"] for reasons in deleted(decisions).values())


def test_decisions_come_newest_first():
    """Decisions of a group are listed newest first."""
    assert [d.id for d in decide(HISTORY, policy(last=1))] == list("gfedcbaz")


def test_equal_times_are_ordered_by_id_the_smaller_counting_as_newer():
    """Two backups with the same created_at are ordered by id, and `last 1` keeps the smaller id."""
    items = [backup("b-2", "2026-05-01T08:00:00"), backup("b-1", "2026-05-01T08:00:00")]
    decisions = decide(items, policy(last=1))
    assert [d.id for d in decisions] == ["b-1", "b-2"]
    assert kept(decisions) == {"b-1": ["last 1"]}


def test_a_backup_listed_twice_is_decided_once():
    """A backup that two overlapping pages both listed gets one decision."""
    item = backup("a", "2026-05-01T08:00:00")
    assert [d.id for d in decide([item, dict(item)], policy(last=1))] == ["a"]


def test_created_at_with_z_or_offset_is_honoured():
    """A created_at with Z or an offset is read in that zone, not as UTC wall time."""
    items = [
        backup("plain", "2026-05-01T10:00:00"),
        backup("zulu", "2026-05-01T10:30:00Z"),
        backup("offset", "2026-05-01T12:15:00+02:00"),  # 10:15 UTC
    ]
    assert [d.id for d in decide(items, policy(last=3))] == ["zulu", "offset", "plain"]


def test_an_unreadable_created_at_stops_the_planner_naming_the_backup():
    """A governed backup whose created_at cannot be read raises ValueError naming it."""
    with pytest.raises(ValueError, match="backup broken"):
        decide([backup("broken", "yesterday")], policy(last=1))


class TestStatuses:
    """Only available backups count; error backups go unless tagged; other statuses are not governed."""

    def test_error_backups_never_count_and_are_deleted(self):
        """A newer error backup neither takes a `last` place nor survives."""
        items = [backup("ok", "2026-05-01T08:00:00"), backup("bad", "2026-05-02T08:00:00", status="error")]
        decisions = decide(items, policy(last=1, min_keep=1))
        assert kept(decisions) == {"ok": ["last 1", "min_keep"]}
        assert deleted(decisions) == {"bad": ["error"]}

    def test_error_backups_are_kept_by_a_tag(self):
        """An error backup carrying a kept tag is kept, and only for the tag."""
        items = [backup("bad", "2026-05-02T08:00:00", status="error", tags=[("retain", "true")])]
        assert kept(decide(items, policy(last=5, tags=[("retain", "true")]))) == {"bad": ["tag retain=true"]}

    def test_error_backups_do_not_move_the_within_anchor(self):
        """`within` counts back from the newest available backup, not from a newer error backup."""
        items = [
            backup("old", "2026-05-01T08:00:00"),
            backup("older", "2026-04-30T09:00:00"),
            backup("bad", "2026-05-09T08:00:00", status="error"),
        ]
        assert kept(decide(items, policy(within="1d"))) == {"old": ["within"], "older": ["within"]}

    @pytest.mark.parametrize(
        "status",
        ["waiting_protect", "protecting", "waiting_restore", "restoring", "waiting_delete", "deleting", "deleted"],
    )
    def test_other_statuses_are_neither_counted_nor_touched(self, status):
        """A backup in another status is left out of the decisions and takes no place in the rules."""
        items = [backup("busy", "2026-05-03T08:00:00", status=status), backup("ok", "2026-05-01T08:00:00")]
        decisions = decide(items, policy(last=1))
        assert [d.id for d in decisions] == ["ok"]
        assert kept(decisions) == {"ok": ["last 1"]}


class TestTags:
    """`tags` keeps every backup carrying one of the listed pairs."""

    def test_each_matching_pair_is_a_reason_and_others_do_not_keep(self):
        """Key and value must both match; every matching pair is listed."""
        items = [
            backup("both", "2026-05-01T08:00:00", tags=[("retain", "true"), ("legal", "hold")]),
            backup("wrong-value", "2026-05-02T08:00:00", tags=[("retain", "false")]),
            backup("untagged", "2026-05-03T08:00:00"),
        ]
        rules = policy(tags=[("retain", "true"), ("legal", "hold")])
        decisions = decide(items, rules)
        assert kept(decisions) == {"both": ["tag retain=true", "tag legal=hold"]}
        assert set(deleted(decisions)) == {"wrong-value", "untagged"}

    def test_malformed_tags_are_ignored(self):
        """A tags field that is not a list of key/value strings keeps nothing and breaks nothing."""
        item = backup("odd", "2026-05-01T08:00:00")
        item["tags"] = [{"key": "retain"}, "retain=true", {"key": "retain", "value": True}]
        assert kept(decide([item], policy(tags=[("retain", "true")]))) == {}


class TestMinKeep:
    """`min_keep` keeps the newest available backups whatever the rules say."""

    def test_min_keep_keeps_the_newest_when_no_rule_does(self):
        """With only a tag rule, the newest `min_keep` available backups are still kept."""
        items = [backup(i, f"2026-05-0{n}T08:00:00") for n, i in enumerate("abcd", start=1)]
        decisions = decide(items, policy(tags=[("retain", "true")], min_keep=2))
        assert kept(decisions) == {"d": ["min_keep"], "c": ["min_keep"]}

    def test_min_keep_is_listed_beside_other_reasons(self):
        """A backup kept by rules and by min_keep lists every reason, min_keep last."""
        items = [backup("a", "2026-05-01T08:00:00", tags=[("retain", "true")])]
        rules = policy(last=1, daily=1, within="1h", tags=[("retain", "true")], min_keep=1)
        assert kept(decide(items, rules)) == {
            "a": ["last 1", "daily 2026-05-01", "within", "tag retain=true", "min_keep"]
        }

    def test_min_keep_counts_available_backups_only(self):
        """Error backups are not among the newest `min_keep` and stay deleted."""
        items = [
            backup("bad", "2026-05-05T08:00:00", status="error"),
            backup("a", "2026-05-01T08:00:00"),
            backup("b", "2026-05-02T08:00:00"),
        ]
        decisions = decide(items, policy(tags=[("x", "y")], min_keep=5))
        assert kept(decisions) == {"b": ["min_keep"], "a": ["min_keep"]}
        assert deleted(decisions) == {"bad": ["error"]}


class TestWithinUnits:
    """`within` keeps everything at or after (newest - span); the backup just before the start goes."""

    TABLE = (
        # newest, span, zone, first instant inside (UTC); months/years clamp the day to the month's end
        ("2026-03-10T12:00:00", "36h", "UTC", "2026-03-09T00:00:00"),
        ("2026-03-10T12:00:00", "2d", "UTC", "2026-03-08T12:00:00"),
        ("2026-03-10T12:00:00", "1w", "UTC", "2026-03-03T12:00:00"),
        ("2026-05-31T12:00:00", "2m", "UTC", "2026-03-31T12:00:00"),
        ("2026-04-30T12:00:00", "2m", "UTC", "2026-02-28T12:00:00"),
        ("2028-04-30T12:00:00", "2m", "UTC", "2028-02-29T12:00:00"),
        ("2026-03-31T12:00:00", "1m", "UTC", "2026-02-28T12:00:00"),
        ("2026-01-15T12:00:00", "3m", "UTC", "2025-10-15T12:00:00"),
        ("2026-06-15T12:00:00", "1y", "UTC", "2025-06-15T12:00:00"),
        ("2028-02-29T12:00:00", "1y", "UTC", "2027-02-28T12:00:00"),
        ("2028-02-29T12:00:00", "4y", "UTC", "2024-02-29T12:00:00"),
        # days are exact 24 h even across the spring-forward night
        ("2026-03-29T12:00:00", "1d", "Europe/Berlin", "2026-03-28T12:00:00"),
        # months count on the local calendar: Apr 1 00:30 CEST -> Mar 1 00:30 CET
        ("2026-03-31T22:30:00", "1m", "Europe/Berlin", "2026-02-28T23:30:00"),
        # same instant, counted in UTC: Mar 31 22:30 -> Feb 28 22:30
        ("2026-03-31T22:30:00", "1m", "UTC", "2026-02-28T22:30:00"),
    )

    @pytest.mark.parametrize(("newest", "span", "zone", "start"), TABLE)
    def test_the_span_starts_exactly_where_documented(self, newest, span, zone, start):
        """The backup at the start instant is kept and the one a microsecond earlier is deleted."""
        earlier = datetime.fromisoformat(start) - timedelta(microseconds=1)
        items = [backup("newest", newest), backup("at-start", start), backup("before", earlier.isoformat())]
        decisions = decide(items, policy(within=span, timezone=zone))
        assert kept(decisions) == {"newest": ["within"], "at-start": ["within"]}
        assert deleted(decisions) == {"before": ["no rule"]}

    def test_a_span_reaching_before_year_one_keeps_everything(self):
        """A span longer than the calendar keeps every backup instead of failing."""
        items = [backup("new", "2026-01-01T00:00:00"), backup("old", "0001-06-01T00:00:00")]
        assert set(kept(decide(items, policy(within="3000y")))) == {"new", "old"}


class TestSelect:
    """`select` limits what the policy governs; everything else is left out."""

    ITEMS = (
        backup("a1", "2026-05-01T08:00:00", resource_id="srv-a", name="autobk_1"),
        backup("a2", "2026-05-02T08:00:00", resource_id="srv-a", name="manual_1"),
        backup("b1", "2026-05-01T08:00:00", resource_id="srv-b", name="autobk_2"),
        backup("c1", "2026-05-01T08:00:00", resource_id="srv-c", name=None),
    )
    TABLE = (
        (Selection(), {"a1", "a2", "b1", "c1"}),
        (Selection(resource_ids=frozenset({"srv-a", "srv-c"})), {"a1", "a2", "c1"}),
        (Selection(name_prefix="autobk_"), {"a1", "b1"}),
        (Selection(resource_ids=frozenset({"srv-a"}), name_prefix="autobk_"), {"a1"}),
    )

    @pytest.mark.parametrize(("selection", "governed"), TABLE)
    def test_only_selected_backups_are_decided(self, selection, governed):
        """Conditions are AND-ed; a backup without a name fails a name_prefix condition."""
        decisions = decide(self.ITEMS, policy(select=selection, tags=[("x", "y")]))
        assert {d.id for d in decisions} == governed

    def test_an_unselected_newer_backup_does_not_count(self):
        """A newer backup outside the selection does not take the `last` place of a selected one."""
        decisions = decide(self.ITEMS, policy(select=Selection(name_prefix="autobk_"), last=1))
        assert kept(decisions) == {"a1": ["last 1"], "b1": ["last 1"]}


class TestGrouping:
    """Rules apply per history: per server id, per server name, or across all."""

    ITEMS = (
        backup("a1", "2026-05-01T08:00:00", resource_id="srv-a", resource_name="web"),
        backup("a2", "2026-05-02T08:00:00", resource_id="srv-a", resource_name="web"),
        backup("b1", "2026-05-03T08:00:00", resource_id="srv-b", resource_name="web"),
        backup("c1", "2026-05-04T08:00:00", resource_id="srv-c", resource_name=None),
    )

    def test_by_resource_id_each_server_keeps_its_own(self):
        """The default groups by server id, so each server keeps its newest."""
        decisions = decide(self.ITEMS, policy(last=1))
        assert kept(decisions) == {"a2": ["last 1"], "b1": ["last 1"], "c1": ["last 1"]}
        assert {d.id: d.group for d in decisions}["a1"] == "srv-a"

    def test_by_resource_name_servers_sharing_a_name_share_a_history(self):
        """By name, a rebuilt server with the same name continues the old one's history."""
        decisions = decide(self.ITEMS, policy(last=1, group_by="resource_name"))
        assert kept(decisions) == {"b1": ["last 1"], "c1": ["last 1"]}
        assert {d.id: d.group for d in decisions} == {
            "a1": "web",
            "a2": "web",
            "b1": "web",
            "c1": "(no name) srv-c",
        }

    def test_a_top_level_resource_name_is_read_too(self):
        """resource_name may sit at the top level of the item instead of in extend_info."""
        item = backup("x", "2026-05-01T08:00:00", resource_name=None)
        item["resource_name"] = "db"
        assert decide([item], policy(last=1, group_by="resource_name"))[0].group == "db"

    def test_none_puts_everything_in_one_group(self):
        """With group_by none, one history spans every server."""
        decisions = decide(self.ITEMS, policy(last=1, group_by="none"))
        assert kept(decisions) == {"c1": ["last 1"]}
        assert {d.group for d in decisions} == {"all"}

    def test_a_backup_without_resource_id_keeps_a_history_of_its_own(self):
        """A backup missing its resource_id is not merged with other such backups."""
        items = [backup("x", "2026-05-01T08:00:00"), backup("y", "2026-05-02T08:00:00")]
        for item in items:
            del item["resource_id"]
        decisions = decide(items, policy(last=1))
        assert kept(decisions) == {"x": ["last 1"], "y": ["last 1"]}
        assert {d.group for d in decisions} == {"(no resource_id) x", "(no resource_id) y"}
