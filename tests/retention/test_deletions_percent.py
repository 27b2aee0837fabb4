"""`max_deletions_percent`: the share of the governed backups a plan may delete, read from the policy file and
checked over all histories together."""

from __future__ import annotations

import dataclasses

import pytest

from tests.retention.builders import backup, policy
from worker.errors import PolicyError
from worker.retention.policy import parse_policy
from worker.retention.rules import check_max_deletions, decide

# Two histories of three; `last: 1` deletes 4 of the 6 (66.67 %): 2 in each history.
ITEMS = [backup(f"{server}{n}", f"2026-05-0{n}T08:00:00", resource_id=server) for server in "ab" for n in (1, 2, 3)]


@pytest.mark.parametrize(("written", "read"), [("20", 20.0), ("12.5", 12.5), ("100", 100.0), ("0.5", 0.5)])
def test_a_share_in_percent_is_read(written: str, read: float) -> None:
    read_back = parse_policy(f"keep: {{last: 1}}\nmax_deletions_percent: {written}\n", "p.yaml")
    assert read_back.max_deletions_percent == read


@pytest.mark.parametrize("written", ["0", "-5", "101", "'20%'", "true", ".nan", ".inf", "~"])
def test_anything_else_is_refused_naming_the_file_and_line(written: str) -> None:
    with pytest.raises(PolicyError, match=r"^p\.yaml:3: max_deletions_percent must be a share of the governed backups"):
        parse_policy(f"keep:\n  last: 1\nmax_deletions_percent: {written}\n", "p.yaml")


@pytest.mark.parametrize("limit", [66.67, 70, 100])
def test_a_plan_within_the_share_passes(limit: float) -> None:
    """4 of 6 is 66.66... %: allowed from 66.67 % up."""
    rules = dataclasses.replace(policy(last=1), max_deletions_percent=limit)
    assert check_max_deletions(decide(ITEMS, rules), rules) == 4


def test_a_plan_above_the_share_is_refused_naming_the_figures() -> None:
    """66 % of 6 governed backups is 3.96: deleting 4 is refused, and the message gives both shares."""
    rules = parse_policy("keep: {last: 1}\nmin_keep: 0\nmax_deletions_percent: 66\n", "p.yaml")
    with pytest.raises(PolicyError) as refused:
        check_max_deletions(decide(ITEMS, rules), rules)
    assert str(refused.value).startswith(
        "p.yaml: the plan would delete 4 of 6 governed backups (66.67 %), more than max_deletions_percent (66 %); "
        "nothing planned.")


def test_the_share_counts_only_governed_backups() -> None:
    """Backups the policy does not govern (other servers, other statuses) are not in the share: 2 of 3 of server
    a's is 66.67 % however many others the project holds."""
    others = [backup(f"c{n}", "2026-05-01T08:00:00", resource_id="c", status="protecting") for n in range(10)]
    rules = parse_policy("select: {resource_ids: [a]}\nkeep: {last: 1}\nmax_deletions_percent: 60\n", "p.yaml")
    with pytest.raises(PolicyError, match=r"delete 2 of 3 governed backups \(66\.67 %\)"):
        check_max_deletions(decide(ITEMS + others, rules), rules)
