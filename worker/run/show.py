"""``csbs-worker show PLAN``: what a reviewer needs of an approvable plan, on one screen; nothing is sent.

The plan is read and checked as ``delete`` reads it (the digest shown is the one ``delete --expect-digest``
compares). Then: its service, project, endpoint, when it was made and until when it is valid, its digest,
and per resource (server) how many backups it keeps and deletes, the oldest and newest kept, and the size it
frees where the service reports one (CSBS ``extend_info.size``; CBR reports none). The resources with the
most deletions come first; ``--all`` lists every one.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TextIO

from worker.display import error_line
from worker.engine.outcomes import ExitCode
from worker.errors import UsageError
from worker.plan import read_plan
from worker.plan.approval import Approval, KeptBackups, iso_z
from worker.services import registry
from worker.yamlsource import YamlSourceError, read_file

SHOWN_RESOURCES: Final = 30  # rows on one screen; --all lists the rest
_SERVICE_LINE: Final = re.compile(r"^service:\s*['\"]?([a-z]+)", re.MULTILINE)
_COLUMNS: Final = ("resource", "name", "kept", "deleted", "oldest kept", "newest kept", "freed")


@dataclass(frozen=True)
class ResourceRow:
    """What the plan does to one resource's backups."""

    resource_id: str
    name: str
    kept: int
    deleted: int
    oldest: str
    newest: str
    freed_mb: int | None


def show_plan(path: str, *, every: bool = False, out: TextIO | None = None, now: datetime | None = None) -> int:
    """Print the summary of the approvable plan at ``path``; the exit code (2: not a readable approvable plan)."""
    out = out or sys.stdout
    try:
        approval = read_approval(path)
    except UsageError as error:
        print(error_line(error), file=sys.stderr)
        return ExitCode.USAGE
    out.write("\n".join(summary_lines(approval, every=every, now=now or datetime.now(UTC))) + "\n")
    out.flush()
    return ExitCode.OK


def read_approval(path: str) -> Approval:
    """The approval of the plan at ``path``, read as ``delete`` reads it; ``UsageError`` when it has none."""
    try:
        found = _SERVICE_LINE.search(read_file(path, "the plan"))
    except YamlSourceError as error:
        raise UsageError(str(error)) from None
    service = found.group(1) if found and found.group(1) in registry.NAMES else registry.DEFAULT
    plan = read_plan([path], fmt="yaml", service=registry.entries(service))
    if plan.approval is None:
        raise UsageError(f"{path} is not an approvable plan: csbs-worker plan --approvable writes one")
    return plan.approval


def summary_lines(approval: Approval, *, every: bool, now: datetime) -> Iterator[str]:
    """The lines ``show`` prints."""
    rows = resource_rows(approval)
    deleted = sum(row.deleted for row in rows)
    sizes = [row.freed_mb for row in rows if row.deleted]
    freed = f"no size ({approval.service.upper()} reports none)" if None in sizes else _size(sum(filter(None, sizes)))
    left = approval.valid_until - now
    validity = "EXPIRED" if left.total_seconds() < 0 else f"{_duration(left.total_seconds())} left"
    yield f"approvable {approval.service.upper()} plan {approval.source}"
    yield f"  project   {approval.project_id}"
    yield f"  endpoint  {approval.endpoint}"
    yield f"  made      {iso_z(approval.made_at)}, valid until {iso_z(approval.valid_until)} ({validity})"
    yield f"  digest    {approval.digest}"
    yield (f"  deletes   {deleted} backups of {sum(1 for row in rows if row.deleted)} resources, frees {freed}; "
           f"keeps {sum(row.kept for row in rows)}")
    shown = rows if every else rows[:SHOWN_RESOURCES]
    table = [_COLUMNS, *((row.resource_id, row.name or "-", str(row.kept), str(row.deleted), row.oldest or "-",
                          row.newest or "-", _size(row.freed_mb) if row.deleted else "-") for row in shown)]
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
    yield ""
    for line in table:
        yield "  ".join(cell.rjust(width) if n in (2, 3) else cell.ljust(width)
                        for n, (cell, width) in enumerate(zip(line, widths, strict=True))).rstrip()
    if len(rows) > len(shown):
        yield f"({len(rows) - len(shown)} more resources, with fewer deletions: csbs-worker show --all lists them)"


def resource_rows(approval: Approval) -> list[ResourceRow]:
    """One row per resource the plan keeps or deletes backups of, the most deletions first."""
    deleted: Counter[str] = Counter()
    freed: dict[str, int | None] = {}
    for backup in approval.backups.values():
        deleted[backup.resource_id] += 1
        known = freed.get(backup.resource_id, 0)
        freed[backup.resource_id] = None if known is None or backup.size_mb is None else known + backup.size_mb
    kept = {row.resource_id: row for row in approval.kept}
    none = KeptBackups("", None, 0, None, None)
    rows = [ResourceRow(resource, kept.get(resource, none).resource_name or "", kept.get(resource, none).kept,
                        deleted[resource], kept.get(resource, none).oldest or "",
                        kept.get(resource, none).newest or "", freed.get(resource))
            for resource in dict.fromkeys([*kept, *deleted])]
    rows.sort(key=lambda row: (-row.deleted, row.name, row.resource_id))
    return rows


def _size(megabytes: int | None) -> str:
    if megabytes is None:
        return "not reported"
    return f"{megabytes / 1024:,.1f} GB" if megabytes >= 1024 else f"{megabytes} MB"


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"
