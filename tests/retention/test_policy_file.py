"""Reading a policy file: defaults, the example, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from worker.errors import PolicyError, UsageError
from worker.retention.policy import Duration, KeepRules, Policy, Selection, Tag, load_policy, parse_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "policy.example.yaml"


def test_the_example_policy_reads_as_documented():
    """config/policy.example.yaml parses into the policy its comments describe."""
    policy = load_policy(str(EXAMPLE))
    assert policy == Policy(
        keep=KeepRules(
            last=3,
            daily=7,
            weekly=4,
            monthly=12,
            yearly=3,
            within=Duration(2, "d"),
            tags=(Tag("retain", "true"),),
        ),
        timezone=ZoneInfo("Europe/Berlin"),
        group_by="resource_id",
        select=Selection(
            resource_ids=frozenset({"2b2f0bb8-3d3e-4c5b-8f6a-9d0e1f2a3b4c", "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"}),
            name_prefix="autobk_",
        ),
        min_keep=1,
        max_deletions=500,
        max_deletions_percent=90,
        source=str(EXAMPLE),
    )


def test_defaults_are_utc_per_server_min_keep_one_and_no_limit():
    """Only `keep` is required; the rest defaults to UTC, one history per server, min_keep 1, no cap."""
    policy = parse_policy("keep: {daily: 7}\n", "p.yaml")
    assert policy == Policy(keep=KeepRules(daily=7), source="p.yaml")
    assert (policy.timezone, policy.group_by, policy.min_keep, policy.max_deletions) == (
        ZoneInfo("UTC"),
        "resource_id",
        1,
        None,
    )


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("36h", Duration(36, "h")),
        (" 7d", Duration(7, "d")),
        ("2w", Duration(2, "w")),
        ("6m", Duration(6, "m")),
        ("1y", Duration(1, "y")),
    ],
)
def test_within_accepts_each_unit(text, span):
    """`within` takes one whole number and one unit h, d, w, m or y."""
    assert parse_policy(f"keep:\n  within: '{text}'\n", "p.yaml").keep.within == span


def test_group_by_accepts_its_three_choices():
    """group_by is resource_id, resource_name or none."""
    for choice in ("resource_id", "resource_name", "none"):
        assert parse_policy(f"group_by: {choice}\nkeep: {{last: 1}}\n", "p.yaml").group_by == choice


ERRORS = [
    # text, line, words the message must contain
    ("keep: {last: 1}\nretention: 5\n", 2, "unknown key 'retention'"),
    ("keep:\n  last: 1\n  dayly: 7\n", 3, "unknown key 'dayly' in keep"),
    ("keep:\n  last: 1\n  last: 2\n", 3, "appears twice"),
    ("keep:\n  daily: -1\n", 2, "keep.daily must be a whole number >= 0"),
    ("keep:\n  daily: seven\n", 2, "keep.daily must be a whole number"),
    ("keep:\n  daily: 1.5\n", 2, "keep.daily must be a whole number"),
    ("keep:\n  daily: yes\n", 2, "keep.daily must be a whole number"),
    ("keep:\n  daily: [1]\n", 2, "a single value"),
    ("keep: {last: 1}\nmin_keep: -2\n", 2, "min_keep must be a whole number >= 0"),
    ("keep: {last: 1}\nmax_deletions: 0\n", 2, "max_deletions must be a whole number >= 1"),
    ("keep: {last: 1}\nmax_deletions: ~\n", 2, "max_deletions must be a whole number >= 1"),
    ("timezone: Mars/Olympus\nkeep: {last: 1}\n", 1, "unknown time zone 'Mars/Olympus'"),
    ("timezone: ../etc/passwd\nkeep: {last: 1}\n", 1, "unknown time zone"),
    ("timezone: 5\nkeep: {last: 1}\n", 1, "timezone must be a string"),
    ("keep: {last: 1}\ngroup_by: host\n", 2, "group_by must be one of resource_id, resource_name, none"),
    ("keep:\n  within: 2 days\n", 2, "keep.within must be a positive whole number and a unit"),
    ("keep:\n  within: 0d\n", 2, "keep.within must be"),
    ("keep:\n  within: 1.5d\n", 2, "keep.within must be"),
    ("keep:\n  within: 48\n", 2, "keep.within must be"),
    ("keep:\n  within: 2D\n", 2, "keep.within must be"),
    ("keep:\n  last: 1\n  tags: {key: a, value: b}\n", 3, "keep.tags must be a list"),
    ("keep:\n  last: 1\n  tags:\n    - {key: retain}\n", 4, "needs value"),
    ("keep:\n  last: 1\n  tags:\n    - {key: retain, value: true}\n", 4, "a tag value must be a string"),
    ("keep:\n  last: 1\n  tags:\n    - {key: retain, value: x, note: y}\n", 4, "unknown key 'note'"),
    ("keep: {last: 1}\nselect:\n  resource_ids: srv-a\n", 3, "select.resource_ids must be a list"),
    ("keep: {last: 1}\nselect:\n  resource_ids: []\n", 3, "would select nothing"),
    ("keep: {last: 1}\nselect:\n  name: x\n", 3, "unknown key 'name' in select"),
    ("keep: {last: 1}\nselect: autobk_\n", 2, "select must be a mapping"),
    ("keep:\n  last: 1\n   daily: 2\n", 3, "not valid YAML"),
    ("keep: {last: 1\n", 2, "not valid YAML"),
    ("- keep\n", 1, "must be a mapping"),
    ("", 1, "the policy is empty"),
    ("# nothing but a comment\n", 1, "the policy is empty"),
    ("keep: {last: 1}\n---\nkeep: {last: 2}\n", 2, "not valid YAML"),
]


@pytest.mark.parametrize(("text", "line", "words"), ERRORS)
def test_a_bad_policy_is_refused_naming_file_and_line(text, line, words):
    """Unknown keys, bad types, zones and durations, negative counts raise PolicyError at their line."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "policies/prod.yaml")
    message = str(caught.value)
    assert message.startswith(f"policies/prod.yaml:{line}: "), message
    assert words in message


EMPTY_POLICIES = [
    ("timezone: UTC\n", 1, "no 'keep' rules"),
    ("min_keep: 3\n", 1, "no 'keep' rules"),
    ("min_keep: 3\nkeep: {}\n", 2, "every keep rule is zero or absent"),
    ("keep:\n  last: 0\n  daily: 0\n  tags: []\n", 2, "every keep rule is zero or absent"),
]


@pytest.mark.parametrize(("text", "line", "words"), EMPTY_POLICIES)
def test_a_policy_that_keeps_nothing_is_refused(text, line, words):
    """A policy without any keep rule would delete everything, so it is refused (min_keep alone is not a rule)."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    assert str(caught.value).startswith(f"p.yaml:{line}: ")
    assert words in str(caught.value)


def test_a_policy_error_is_a_usage_error():
    """PolicyError maps to exit 2 through UsageError."""
    with pytest.raises(UsageError):
        parse_policy("keep: {}\n", "p.yaml")


def test_a_missing_file_is_named(tmp_path):
    """An unreadable policy file raises PolicyError naming the path."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError, match=r"nope\.yaml: cannot read the policy"):
        load_policy(str(missing))


def test_a_policy_file_is_read_from_disk(tmp_path):
    """load_policy reads the file and names it as the policy's source."""
    path = tmp_path / "p.yaml"
    path.write_text("keep:\n  tags: [{key: retain, value: 'yes'}]\n", encoding="utf-8")
    policy = load_policy(str(path))
    assert policy.keep.tags == (Tag("retain", "yes"),)
    assert policy.source == str(path)


HOSTILE = [
    ("keep:\n  last: 1\ntags:\n  a: 1\n  a: 2\n", 5, "'a' appears twice (first at line 4)"),
    ("keep:\n  last: 1\n  daily: 7\x1b\n", 3, "U+001B"),
    ("keep: " + "{a: " * 100 + "1" + "}" * 100 + "\n", 1, "nested more than"),
    ("keep:\n  daily: " + "9" * 5000 + "\n", 2, "as a number"),
    ("keep: {last: 1}\ntimezone: " + "Z" * 5000 + "\n", 2, "(5000 characters)"),
]


@pytest.mark.parametrize(("text", "line", "words"), HOSTILE, ids=["duplicate", "control", "deep", "huge", "long"])
def test_hostile_policy_is_refused_at_its_line(text, line, words):
    """A repeated key anywhere, a control character, deep nesting or a huge number is a PolicyError at its
    line, and a long value is echoed cut short."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    message = str(caught.value)
    assert message.startswith(f"p.yaml:{line}: "), message
    assert words in message
    assert len(message) < 300


def test_a_policy_file_not_utf8_names_its_line(tmp_path):
    """Bytes that are not UTF-8 in a policy file are reported at their line."""
    path = tmp_path / "p.yaml"
    path.write_bytes(b"keep:\n  last: 1\n  tags: [{key: \xe9, value: x}]\n")
    with pytest.raises(PolicyError, match=r"p\.yaml:3: the policy is not UTF-8 text"):
        load_policy(str(path))


VAULT_A = "5f0d4f1e-2c3b-4a59-8d6e-7f8091a2b3c4"
VAULT_B = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"


def test_select_reads_vault_ids_and_vault_names():
    """select.vault_ids (UUIDs, kept lower case) and select.vault_names (exact names) are read for CBR."""
    text = f"keep: {{last: 1}}\nselect:\n  vault_ids: [{VAULT_A.upper()}, ' {VAULT_B}']\n  vault_names: [default, db]\n"
    select = parse_policy(text, "p.yaml").select
    assert select == Selection(vault_ids=frozenset({VAULT_A, VAULT_B}), vault_names=frozenset({"default", "db"}))
    assert select.uses_vaults
    assert not Selection().uses_vaults and not Selection(resource_ids=frozenset({"x"})).uses_vaults


def test_vault_conditions_match_on_the_backup_vault():
    """A backup is selected when its vault_id (any case) and its vault_name are among those listed."""
    by_id = Selection(vault_ids=frozenset({VAULT_A}))
    assert by_id.matches({"vault_id": VAULT_A}) and by_id.matches({"vault_id": VAULT_A.upper()})
    assert not by_id.matches({"vault_id": VAULT_B}) and not by_id.matches({"vault_id": None})
    by_name = Selection(vault_names=frozenset({"default", "autobk-policy"}))
    assert by_name.matches({"vault_name": "default"}) and by_name.matches({"vault_name": "autobk-policy"})
    assert not by_name.matches({"vault_name": "Default"}) and not by_name.matches({"vault_id": VAULT_A})
    assert not by_name.matches({"resource_id": "srv", "name": "autobk_1"})  # a CSBS item has no vault


def test_vault_conditions_combine_with_the_others():
    """Every condition given must hold: the vault, the server and the name prefix."""
    select = Selection(
        resource_ids=frozenset({"srv-a"}), name_prefix="autobk_", vault_ids=frozenset({VAULT_A}),
        vault_names=frozenset({"default"}),
    )
    backup = {"resource_id": "srv-a", "name": "autobk_01", "vault_id": VAULT_A, "vault_name": "default"}
    assert select.matches(backup)
    for key, other in [("resource_id", "srv-b"), ("name", "manual"), ("vault_id", VAULT_B), ("vault_name", "db")]:
        assert not select.matches({**backup, key: other}), key


VAULT_ERRORS = [
    ("keep: {last: 1}\nselect:\n  vault_ids: []\n", 3, "select.vault_ids is empty and would select nothing"),
    ("keep: {last: 1}\nselect:\n  vault_names: []\n", 3, "select.vault_names is empty and would select nothing"),
    (f"keep: {{last: 1}}\nselect:\n  vault_ids: {VAULT_A}\n", 3, "select.vault_ids must be a list"),
    ("keep: {last: 1}\nselect:\n  vault_names: default\n", 3, "select.vault_names must be a list"),
    ("keep: {last: 1}\nselect:\n  vault_ids:\n    - default\n", 4, "'default' is not a vault id (a UUID"),
    ("keep: {last: 1}\nselect:\n  vault_ids:\n    - 12\n", 4, "a vault id must be a string"),
    ("keep: {last: 1}\nselect:\n  vault_names: [yes]\n", 3, "select.vault_names must be a string"),
    ("keep: {last: 1}\nselect:\n  vault_ids: [" + "f" * 5000 + "]\n", 3, "(5000 characters)"),
    ("keep: {last: 1}\nselect:\n  vault: [default]\n", 3, "expected one of: resource_ids, name_prefix, vault_ids"),
]


@pytest.mark.parametrize(("text", "line", "words"), VAULT_ERRORS)
def test_a_bad_vault_condition_is_refused_at_its_line(text, line, words):
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    message = str(caught.value)
    assert message.startswith(f"p.yaml:{line}: "), message
    assert words in message
    assert len(message) < 300


def test_the_example_documents_the_vault_keys_for_cbr():
    """config/policy.example.yaml shows vault_ids and vault_names, commented, as CBR-only; uncommented they
    read."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "# vault_ids:" in text and "# vault_names:" in text and "CBR only" in text
    enabled = text.replace("  # vault_ids:", "  vault_ids:").replace("  #   - ", "    - ")
    enabled = enabled.replace("  # vault_names:", "  vault_names:")
    select = parse_policy(enabled, "example").select
    assert select.vault_ids == frozenset({"5f0d4f1e-2c3b-4a59-8d6e-7f8091a2b3c4"})
    assert select.vault_names == frozenset({"default"})
