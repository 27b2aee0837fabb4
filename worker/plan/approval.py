"""Approvable plans: what they state besides their deletions, their digest, and the checks of a run against them.

An approvable plan (``csbs-worker plan --approvable``; docs/plans.md, "Approvable plans") is a YAML plan that
also states its ``service``, ``project_id``, an ``approval`` header (the endpoint's host, when it was made and
until when it is valid), a ``planned`` row per deleted backup (what identified it: its record or vault, its
resource and its ``created_at``; CSBS also its size) and a ``kept`` row per resource (how many of its backups
the plan keeps, the oldest and the newest). Its **digest** is the SHA-256 of the canonical JSON of the
document: every mapping an object with its keys sorted, every list an array, every value the string it spells
(``40`` and ``'40'`` alike; no type is read into it), written with no spaces and non-ASCII as is, in UTF-8.
Comments, key order, quoting and layout change nothing; any value that changes changes the digest.

A run given ``--expect-digest`` refuses (exit 2, nothing sent) a plan whose digest differs, that has expired,
or that names another service, project or endpoint; before each DELETE it checks that the backup is still the
one planned (``worker.engine.identity``). The YAML is read in ``worker.plan.approval_yaml``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from worker.cloud.fields import read_datetime
from worker.engine.identity import Identity
from worker.errors import PlanError
from worker.plan.ids import UUID_RE

APPROVAL_KEYS: Final = ("approval", "planned", "kept")  # the top-level keys an approvable plan adds
HEADER_KEYS: Final = ("endpoint", "made_at", "valid_until")  # the keys of its ``approval`` header
_VALID_FOR_RE: Final = re.compile(r"([0-9]+)([smhd])")
_UNIT_S: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_VALID_FOR: Final = timedelta(days=1)
_DIGEST_LINE: Final = "# digest "
_PLAIN_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_RESOLVER: Final = Resolver()  # the implicit types of YAML 1.1, as the reader resolves them


class Listed(Protocol):
    """What the check of an approvable plan's rows reads of a task (``worker.plan.Task`` has it)."""

    @property
    def container_id(self) -> str: ...

    @property
    def backup_id(self) -> str | None: ...

    @property
    def source(self) -> str: ...

    @property
    def line(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class PlannedBackup:
    """One ``planned`` row: a deleted backup as it was listed when the plan was made."""

    backup_id: str  # lower-case UUID
    container_id: str  # its CSBS record or CBR vault, lower-case UUID
    resource_id: str
    created_at: str  # as the service listed it
    size_mb: int | None  # CSBS ``extend_info.size``; CBR reports no backup size
    line: int  # where it stands in the plan

    def identity(self) -> Identity:
        return Identity(self.container_id, self.resource_id, read_datetime(self.created_at))


@dataclass(frozen=True, slots=True)
class KeptBackups:
    """One ``kept`` row: what the plan keeps of one resource's backups."""

    resource_id: str
    resource_name: str | None
    kept: int
    oldest: str | None  # created_at of the oldest kept backup, as listed
    newest: str | None


@dataclass
class Approval:
    """What an approvable plan states besides its deletions; it gives each task's planned identity
    (``worker.engine.identity.PlannedIdentities``)."""

    source: str
    digest: str
    service: str
    project_id: str
    endpoint: str  # host, and :port when the URL gave one
    made_at: datetime
    valid_until: datetime
    backups: dict[str, PlannedBackup]  # by backup id
    kept: tuple[KeptBackups, ...]
    _containers: dict[str, dict[str, Identity]] | None = field(default=None, repr=False)

    def of_backup(self, backup_id: str) -> Identity | None:
        row = self.backups.get(backup_id.lower())
        return None if row is None else row.identity()

    def in_container(self, container_id: str) -> Mapping[str, Identity]:
        if self._containers is None:  # only whole-record tasks ask: index once
            self._containers = {}
            for row in self.backups.values():
                self._containers.setdefault(row.container_id, {})[row.backup_id] = row.identity()
        return self._containers.get(container_id.lower(), {})

    def match(self, tasks: Iterable[Listed]) -> None:
        """Every task has its planned rows and every row its task, or ``PlanError`` naming the first that does not."""
        covered: set[str] = set()
        for task in tasks:
            if task.backup_id is None:
                rows = self.in_container(task.container_id)
                if not rows:
                    raise PlanError(task.source, task.line, f"the whole record {task.container_id} has no "
                                    "planned backups: an approvable plan names each backup it deletes")
                covered.update(rows)
                continue
            row = self.backups.get(task.backup_id)
            if row is None:
                raise PlanError(task.source, task.line, f"backup {task.backup_id} has no planned row: an "
                                "approvable plan names what identified each backup it deletes")
            if task.container_id and task.container_id != row.container_id:
                raise PlanError(task.source, row.line, f"backup {task.backup_id} is planned in {row.container_id} "
                                f"but its deletion names {task.container_id}")
            covered.add(row.backup_id)
        extra = next((row for row in self.backups.values() if row.backup_id not in covered), None)
        if extra is not None:
            raise PlanError(self.source, extra.line, f"planned backup {extra.backup_id} is not among the deletions")

    def refusal(self, *, expected: str, service: str, project_id: str | None, endpoint: str,
                now: datetime) -> str | None:
        """Why a run approved as ``expected`` (a digest) must not run this plan, or None."""
        if expected != self.digest:
            return (f"the plan's digest is {self.digest}, not the approved {expected}: this is not the plan that "
                    "was approved (it changed since, or it is another one)")
        if service != self.service:
            return f"the plan is for {self.service.upper()}, this run deletes {service.upper()} backups"
        if project_id is not None and project_id.lower() != self.project_id.lower():
            return f"the plan is for project {self.project_id}, this run's project is {project_id}"
        if endpoint_host(endpoint) != self.endpoint:
            return f"the plan was made at endpoint {self.endpoint}, this run talks to {endpoint_host(endpoint)}"
        if now > self.valid_until:
            return (f"the plan expired at {iso_z(self.valid_until)} (made at {iso_z(self.made_at)}): "
                    "make a new plan and have it approved")
        return None


# -- the digest ------------------------------------------------------------------------------------------


def digest_of(data: Any) -> str:
    """The SHA-256 (hex) of the canonical JSON of a document whose values are str, int, lists and mappings
    (see the module docstring); the reader gives the same for the document as it reads it."""
    text = json.dumps(_spelled(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _spelled(value: Any) -> Any:
    """Every value as the string it spells in YAML: a str as is, an int in decimal."""
    if isinstance(value, Mapping):
        return {str(key): _spelled(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_spelled(item) for item in value]
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise TypeError(f"an approvable plan holds strings, whole numbers, lists and mappings, not {value!r}")


# -- making one ------------------------------------------------------------------------------------------


def parse_valid_for(text: str) -> timedelta:
    """``--valid-for``: a whole number and a unit, ``s``, ``m`` (minutes), ``h`` or ``d``: ``24h``, ``90m``."""
    match = _VALID_FOR_RE.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r}: give a time like 24h, 90m, 7d or 3600s (more than 0)")
    return timedelta(seconds=int(match.group(1)) * _UNIT_S[match.group(2)])


def endpoint_host(url: str) -> str:
    """What a plan names of an endpoint: its host in lower case, and ``:port`` when the URL gives one."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port is not None else host


def iso_z(moment: datetime) -> str:
    """A time as an approvable plan writes it: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Approving:
    """What ``plan --approvable`` adds to a plan: the endpoint, when it is made and how long it is valid."""

    endpoint: str  # the URL the plan was made at
    made_at: datetime
    valid_for: timedelta = DEFAULT_VALID_FOR

    def render(self, document: Mapping[str, Any], service: str, planned: Sequence[Mapping[str, Any]],
               kept: Sequence[Mapping[str, Any]]) -> str:
        """The approvable plan's YAML: ``document`` (the plan as data: ``project_id`` and ``deletions``) with
        the service, the approval header and the ``planned`` and ``kept`` rows, headed by its digest."""
        made_at = self.made_at.replace(microsecond=0)
        data = {
            "service": service,
            "project_id": document["project_id"],
            "approval": {"endpoint": endpoint_host(self.endpoint), "made_at": iso_z(made_at),
                         "valid_until": iso_z(made_at + self.valid_for)},
            "deletions": document["deletions"],
            "planned": list(planned),
            "kept": list(kept),
        }
        digest = digest_of(data)
        kept_count = sum(int(row["kept"]) for row in kept)
        header = (f"# approvable retention plan ({service.upper()}): delete {len(planned)} backups, keep "
                  f"{kept_count}, of {len(kept)} resources; valid until {data['approval']['valid_until']}\n"
                  f"{_DIGEST_LINE}{digest}\n"
                  f"# approve it by running: csbs-worker delete --expect-digest {digest} PLAN "
                  "(csbs-worker show PLAN summarises it)\n")
        return header + "".join(_lines(data))


def _lines(data: Mapping[str, Any]) -> Iterator[str]:
    """The YAML of an approvable plan, written directly (a YAML library takes seconds per 100,000 rows): a
    mapping of scalars, flow mappings and lists of entries; each entry in flow style when its values are all
    scalars, else in block style with its lists in flow style."""
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield f"{key}: {_flow(value)}\n"
        elif isinstance(value, list):
            yield f"{key}:{'' if value else ' []'}\n"
            yield from (_entry(item) for item in value)
        else:
            yield f"{key}: {_scalar(value)}\n"


def _entry(item: Mapping[str, Any]) -> str:
    if not any(isinstance(value, list) for value in item.values()):
        return f"- {_flow(item)}\n"
    return "".join(f"{'  ' if n else '- '}{key}: {_scalar(value)}\n" for n, (key, value) in enumerate(item.items()))


def _flow(item: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{key}: {_scalar(value)}" for key, value in item.items()) + "}"


def _scalar(value: Any) -> str:
    """A value as YAML reads it back as the same string: ids plain, other text double-quoted (JSON's escapes
    are YAML's), whole numbers plain, a list of those in flow style."""
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value if UUID_RE.fullmatch(value) or _plain(value) else json.dumps(value, ensure_ascii=False)
    raise TypeError(f"an approvable plan holds strings, whole numbers, lists and mappings, not {value!r}")


def _plain(text: str) -> bool:
    """Whether a text reads back as itself unquoted: a word of letters, digits, ``.``, ``_`` and ``-`` that
    YAML does not read as a number, a boolean, a date or null."""
    return (_PLAIN_RE.fullmatch(text) is not None
            and _RESOLVER.resolve(ScalarNode, text, (True, False)) == "tag:yaml.org,2002:str")  # type: ignore[no-untyped-call]


def written_digest(text: str) -> str:
    """The digest ``Approving.render`` wrote into a plan's header comment."""
    for line in text.splitlines()[:3]:
        if line.startswith(_DIGEST_LINE):
            return line[len(_DIGEST_LINE):].strip()
    raise ValueError("no digest in the plan's header")
