"""Approvable plans as the reader reads them (``worker.plan.approval``): the digest `plan` writes is the one the
reader computes, whatever the layout; every task has its planned identity; each fault names its line. End to
end (both services, over the emulators): tests/contract/test_approval.py."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from worker.engine.identity import Identity, difference, record_difference
from worker.errors import PlanError
from worker.plan import read_plan
from worker.plan.approval import Approving, endpoint_host, parse_valid_for, written_digest
from worker.run.show import show_plan
from worker.services.registry import entries

from .samples import C1, C2, C3, I1, I2, I3, PROJECT

R1, R2 = "5b3e0c9a-2d41-4f6e-8a7b-9c0d1e2f3a4b", "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
MADE = datetime(2026, 12, 5, 10, 0, 0, 123456, tzinfo=UTC)


def csbs_plan() -> str:
    """An approvable CSBS plan of two backups of record C1 and one of C2, as `plan --approvable` writes it."""
    document = {"project_id": PROJECT, "deletions": [{"checkpoint_id": C1, "checkpoint_items": [I1, I2]},
                                                      {"checkpoint_id": C2, "checkpoint_items": [I3]}]}
    planned: list[dict[str, object]] = [
        {"backup_id": I1, "checkpoint_id": C1, "resource_id": R1, "created_at": "2026-01-01T00:00:00.000000",
         "size_mb": 40},
        {"backup_id": I2, "checkpoint_id": C1, "resource_id": R2, "created_at": "2026-01-01T01:00:00.000000",
         "size_mb": 41},
        {"backup_id": I3, "checkpoint_id": C2, "resource_id": R1, "created_at": "2026-01-02T00:00:00.000000"}]
    kept = [{"resource_id": R1, "resource_name": "ecs-1", "kept": 2, "oldest": "2026-01-03T00:00:00.000000",
             "newest": "2026-01-04T00:00:00.000000"}, {"resource_id": R2, "kept": 0}]
    return Approving("https://CSBS.eu-de.otc.t-systems.com", MADE, timedelta(hours=6)).render(
        document, "csbs", planned, kept)


def test_the_digest_written_is_the_digest_read(write_plan: Callable[..., str]) -> None:
    """The header's digest is what the reader computes; the header states the host, made_at (whole seconds)
    and valid_until; each task's planned identity is at hand."""
    text = csbs_plan()
    plan = read_plan([write_plan(text)])
    approval = plan.approval
    assert approval is not None
    assert approval.digest == written_digest(text)
    assert (approval.service, approval.project_id) == ("csbs", PROJECT)
    assert approval.endpoint == "csbs.eu-de.otc.t-systems.com"
    assert approval.made_at == MADE.replace(microsecond=0)
    assert approval.valid_until - approval.made_at == timedelta(hours=6)
    assert [(t.container_id, t.backup_id) for t in plan] == [(C1, I1), (C1, I2), (C2, I3)]
    assert approval.of_backup(I2) == Identity(C1, R2, datetime(2026, 1, 1, 1, tzinfo=UTC))
    assert set(approval.in_container(C1)) == {I1, I2}
    assert approval.kept[1].kept == 0 and approval.kept[1].oldest is None


def test_the_digest_ignores_layout_comments_and_key_order(write_plan: Callable[..., str]) -> None:
    """Block or flow style, other quoting, keys in another order and comments: the same digest; a value that
    changes (one size) changes it."""
    text = csbs_plan()
    document = yaml.safe_load(text)
    relaid = "# a reviewer's note\n" + yaml.safe_dump(dict(reversed(document.items())), default_flow_style=False)
    document["planned"][0]["size_mb"] = 39
    changed = yaml.safe_dump(document)
    digests = [read_plan([write_plan(content, name)]).approval.digest  # type: ignore[union-attr]
               for name, content in (("a.yaml", text), ("b.yaml", relaid), ("c.yaml", changed))]
    assert digests[0] == digests[1] != digests[2]


def test_a_cbr_plan_names_each_backup_with_its_vault(write_plan: Callable[..., str]) -> None:
    """CBR's planned rows name the vault (``vault_id``) and carry no size."""
    document = {"service": "cbr", "project_id": PROJECT, "deletions": [{"backup_id": I1, "vault_id": C3}]}
    planned = [{"backup_id": I1, "vault_id": C3, "resource_id": R1, "created_at": "2026-01-01T00:00:00.000+00:00"}]
    text = Approving("https://cbr.eu-de.otc.t-systems.com", MADE).render(document, "cbr", planned, [])
    plan = read_plan([write_plan(text)], service=entries("cbr"))
    assert plan.approval is not None and plan.approval.digest == written_digest(text)
    assert plan.approval.of_backup(I1) == Identity(C3, R1, datetime(2026, 1, 1, tzinfo=UTC))
    assert plan.approval.valid_until - plan.approval.made_at == timedelta(days=1)


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


# edit of the plan -> (the text its faulty line holds, a part of the message)
FAULTS: dict[str, tuple[Callable[[str], str], str, str]] = {
    "a planned backup not deleted": (lambda t: t.replace(f"items: [{I1}, {I2}]", f"items: [{I1}]"),
                                     f"backup_id: {I2}", "is not among the deletions"),
    "a deletion without planned row": (lambda t: t.replace(f"backup_id: {I3}", f"backup_id: {C3}"),
                                       f"checkpoint_items: [{I3}]", f"backup {I3} has no planned row"),
    "a planned row in another record": (lambda t: t.replace(f"checkpoint_id: {C1}, resource_id: {R2}",
                                                            f"checkpoint_id: {C2}, resource_id: {R2}"),
                                        f"backup_id: {I2}", f"is planned in {C2}"),
    "a time that is not one": (lambda t: t.replace('"2026-01-02T00:00:00.000000"', "yesterday"),
                               "yesterday", "'yesterday' is not a time"),
    "an unknown key": (lambda t: t.replace("size_mb: 40", "size: 40"), "size: 40", "unknown key 'size'"),
    "a size that is not a number": (lambda t: t.replace("size_mb: 40", "size_mb: big"), "size_mb: big",
                                    "size_mb must be a whole number"),
    "a backup planned twice": (lambda t: t.replace(f"backup_id: {I3}, checkpoint_id: {C2}",
                                                   f"backup_id: {I1}, checkpoint_id: {C2}"),
                               f"backup_id: {I1}, checkpoint_id: {C2}", "is planned twice"),
    "rows without an approval": (lambda t: t.replace("approval:", "# approval:"), f"backup_id: {I1}",
                                 "'planned' belongs to an approvable plan"),
    "no project": (lambda t: t.replace("project_id:", "# project_id:"), "approval:", "states its 'project_id'"),
    "a validity that ends first": (lambda t: t.replace('valid_until: "2026-12-05T16', 'valid_until: "2026-12-04T16'),
                                   "approval:", "valid_until must come after made_at"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_is_refused_at_its_line(fault: str, write_plan: Callable[..., str]) -> None:
    """Each fault of an approvable plan is a PlanError (exit 2) naming its line."""
    edit, where, words = FAULTS[fault]
    text = edit(csbs_plan())
    with pytest.raises(PlanError) as caught:
        read_plan([write_plan(text)])
    assert words in caught.value.reason
    assert caught.value.line == _line_of(text, where)


def test_an_approvable_plan_is_read_alone(write_plan: Callable[..., str]) -> None:
    """Its digest covers one document: another PLAN beside it is refused."""
    approved, other = write_plan(csbs_plan()), write_plan(f"{C3}\n", "more.txt")
    for sources in ([approved, other], [other, approved]):
        with pytest.raises(PlanError, match="an approvable plan is read alone"):
            read_plan(sources)


def test_identities_differ_by_time_resource_and_container() -> None:
    """The rule: the same backup has the same created_at (as an instant), resource and container; a whole
    record changed when it holds a backup the plan did not name, not when some are gone."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    planned = Identity(C1, R1, when)
    assert difference(planned, Identity(C1.upper(), R1.upper(), when.astimezone())) is None
    assert "created at" in (difference(planned, Identity(C1, R1, when + timedelta(microseconds=1))) or "")
    assert "created at an unreadable time" in (difference(planned, Identity(C1, R1, None)) or "")
    assert R2 in (difference(planned, Identity(C1, R2, when)) or "")
    assert C2 in (difference(planned, Identity(C2, R1, when)) or "")
    record = {I1: planned, I2: Identity(C1, R2, when)}
    assert record_difference(record, {I1: planned}) is None
    assert I3 in (record_difference(record, {I1: planned, I3: planned}) or "")


@pytest.mark.parametrize(("text", "seconds"), [("24h", 86400), ("90m", 5400), ("7d", 604800), (" 30s ", 30)])
def test_valid_for_reads_whole_units(text: str, seconds: int) -> None:
    assert parse_valid_for(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["0h", "1.5h", "24", "1w", "-1h", "h"])
def test_valid_for_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="24h"):
        parse_valid_for(text)


@pytest.mark.parametrize(("url", "host"), [("https://CBR.eu-de.otc.t-systems.com", "cbr.eu-de.otc.t-systems.com"),
                                           ("http://127.0.0.1:8080/", "127.0.0.1:8080"),
                                           ("https://csbs.example:443", "csbs.example:443")])
def test_an_endpoint_is_named_by_its_host_and_given_port(url: str, host: str) -> None:
    assert endpoint_host(url) == host


@pytest.mark.parametrize("name", ["yes", "null", "1.5", "0123", "2026-01-01", "web: 1", "a # b", "'q'", '"dq"',
                                  " padded ", "ünïcödé ☃", "tab\there", "line\nbreak", "[x]", "{y}", "-", "~", ""])
def test_any_text_is_written_so_that_it_reads_back_as_itself(name: str, write_plan: Callable[..., str]) -> None:
    """The plan is written without a YAML library: every text reads back as the same string (so the digest
    written is the digest read), whatever YAML would make of it unquoted."""
    document = {"project_id": PROJECT, "deletions": []}
    kept = [{"resource_id": R1, "resource_name": name or "x", "kept": 1, "oldest": "2026-01-01T00:00:00Z",
             "newest": "2026-01-01T00:00:00Z"}, {"resource_id": name or "y", "kept": 0}]
    text = Approving("https://csbs.example", MADE).render(document, "csbs", [], kept)
    approval = read_plan([write_plan(text)]).approval
    assert approval is not None and approval.digest == written_digest(text)
    assert [row.resource_name for row in approval.kept] == [(name or "x").strip(), None]
    assert approval.kept[1].resource_id == (name or "y").strip()


def test_show_fits_one_screen_and_says_when_a_plan_expired(write_plan: Callable[..., str]) -> None:
    """35 resources: the 30 with the most deletions are listed and the rest counted (`--all` lists them all);
    a plan past its validity says EXPIRED."""
    servers = [f"00000000-0000-4000-8000-{n:012d}" for n in range(35)]
    backups = [f"00000000-0000-4000-9000-{n:012d}" for n in range(36)]
    planned = [{"backup_id": backup, "checkpoint_id": C1, "resource_id": servers[min(n, 34)],
                "created_at": "2026-01-01T00:00:00.000000", "size_mb": 512} for n, backup in enumerate(backups)]
    text = Approving("https://csbs.example", MADE).render(
        {"project_id": PROJECT, "deletions": [{"checkpoint_id": C1, "checkpoint_items": backups}]}, "csbs", planned,
        [{"resource_id": server, "kept": 1} for server in servers])
    path = write_plan(text)
    shown, every = io.StringIO(), io.StringIO()
    assert show_plan(path, out=shown, now=MADE + timedelta(days=2)) == 0
    assert show_plan(path, every=True, out=every, now=MADE) == 0
    lines = shown.getvalue().splitlines()
    assert "(EXPIRED)" in lines[3] and "  deletes   36 backups of 35 resources, frees 18.0 GB; keeps 35" in lines
    assert lines[8].startswith(servers[34]) and lines[8].split()[2:4] == ["1", "2"]  # the most deletions first
    assert sum(line.startswith("00000000-") for line in lines) == 30
    assert lines[-1].startswith("(5 more resources")
    assert sum(line.startswith("00000000-") for line in every.getvalue().splitlines()) == 35
    assert "(23 h 59 min left)" in every.getvalue()
