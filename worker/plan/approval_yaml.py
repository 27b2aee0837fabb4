"""The approval parts of a YAML plan (``approval``, ``planned``, ``kept``: ``worker.plan.approval``), read from
its node tree with each fault at its line, and the plan's digest computed from that same tree."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from worker.cloud.fields import read_datetime
from worker.plan.approval import APPROVAL_KEYS, HEADER_KEYS, Approval, KeptBackups, PlannedBackup, digest_of
from worker.plan.builder import PlanBuilder
from worker.plan.ids import bad_id_reason, id_bytes
from worker.plan.messages import unknown_key
from worker.plan.model import format_uuid
from worker.plan.schema import Shape
from worker.yamlsource import line_of, quote

KEPT_KEYS = ("resource_id", "resource_name", "kept", "oldest", "newest")


def container_key(shape: Shape) -> str:
    """The key of what holds a backup, in a ``planned`` row: its CSBS record, or its CBR vault."""
    return "checkpoint_id" if shape is Shape.RECORDS else "vault_id"


def planned_keys(shape: Shape) -> tuple[str, ...]:
    """The keys of a ``planned`` row of a service's plan (``size_mb`` is optional)."""
    return ("backup_id", container_key(shape), "resource_id", "created_at", "size_mb")


def read_approval(builder: PlanBuilder, fields: Mapping[str, Node], root: Node) -> Approval:
    """The approval of a plan whose root mapping has any of ``APPROVAL_KEYS``; the first fault raises ``PlanError``."""
    header = fields.get("approval")
    if header is None:
        key = next(key for key in APPROVAL_KEYS if key in fields)
        raise builder.error(line_of(fields[key]), f"{key!r} belongs to an approvable plan, which has an "
                            "'approval' header (csbs-worker plan --approvable writes one)")
    for key in ("service", "project_id", "planned", "kept"):
        if key not in fields:
            raise builder.error(line_of(header), f"an approvable plan states its {key!r}")
    values = _fields(builder, header, HEADER_KEYS, "approval header", required=HEADER_KEYS)
    made_at, valid_until = _time(builder, values["made_at"]), _time(builder, values["valid_until"])
    if valid_until <= made_at:
        raise builder.error(line_of(values["valid_until"]), "valid_until must come after made_at")
    return Approval(
        source=builder.source, digest=digest_of(_data(root)),
        service=_text(builder, fields["service"], "service").lower(),
        project_id=_text(builder, fields["project_id"], "project_id"),
        endpoint=_text(builder, values["endpoint"], "endpoint").lower(), made_at=made_at, valid_until=valid_until,
        backups=_planned(builder, fields["planned"]),
        kept=tuple(_kept_row(builder, node) for node in _items(builder, fields["kept"], "kept")))


def _planned(builder: PlanBuilder, node: Node) -> dict[str, PlannedBackup]:
    keys = planned_keys(builder.schema.shape)
    rows: dict[str, PlannedBackup] = {}
    for item in _items(builder, node, "planned"):
        values = _fields(builder, item, keys, "planned row", required=keys[:4])
        backup_id = _uuid(builder, values["backup_id"], "backup id")
        if backup_id in rows:
            raise builder.error(line_of(item), f"backup {backup_id} is planned twice (first at line "
                                f"{rows[backup_id].line})")
        created = values["created_at"]
        _time(builder, created)
        size = values.get("size_mb")
        rows[backup_id] = PlannedBackup(
            backup_id, _uuid(builder, values[keys[1]], keys[1].replace("_", " ")),
            _text(builder, values["resource_id"], "resource_id"), str(getattr(created, "value", "")),
            None if size is None else _count(builder, size, "size_mb"), line_of(item))
    return rows


def _kept_row(builder: PlanBuilder, node: Node) -> KeptBackups:
    values = _fields(builder, node, KEPT_KEYS, "kept row", required=("resource_id", "kept"))
    stamps = {}
    for key in ("oldest", "newest"):
        if key in values:
            _time(builder, values[key])
            stamps[key] = str(getattr(values[key], "value", ""))
    name = values.get("resource_name")
    return KeptBackups(_text(builder, values["resource_id"], "resource_id"),
                       None if name is None else _text(builder, name, "resource_name"),
                       _count(builder, values["kept"], "kept"), stamps.get("oldest"), stamps.get("newest"))


# -- nodes -----------------------------------------------------------------------------------------------


def _data(node: Node) -> Any:
    """The document as data, every value the string it spells (the digest's canonical form)."""
    if isinstance(node, MappingNode):
        return {str(key.value): _data(value) for key, value in node.value}
    if isinstance(node, SequenceNode):
        return [_data(item) for item in node.value]
    return str(node.value)


def _fields(builder: PlanBuilder, node: Node, allowed: tuple[str, ...], what: str,
            required: tuple[str, ...]) -> dict[str, Node]:
    if not isinstance(node, MappingNode):
        raise builder.error(line_of(node), f"the {what} must be a mapping with {', '.join(required)}")
    values: dict[str, Node] = {}
    for key_node, value in node.value:
        key = str(key_node.value) if isinstance(key_node, ScalarNode) else ""
        if key not in allowed:
            raise builder.error(line_of(key_node), unknown_key(key, allowed, what))
        values[key] = value
    missing = next((key for key in required if key not in values), None)
    if missing is not None:
        raise builder.error(line_of(node), f"the {what} has no {missing}")
    return values


def _items(builder: PlanBuilder, node: Node, key: str) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return []
    raise builder.error(line_of(node), f"{key!r} must be a list")


def _text(builder: PlanBuilder, node: Node, what: str) -> str:
    text = str(node.value).strip() if isinstance(node, ScalarNode) else ""
    if not text or node.tag == "tag:yaml.org,2002:null":
        raise builder.error(line_of(node), f"{what} must be a non-empty string")
    return text


def _uuid(builder: PlanBuilder, node: Node, what: str) -> str:
    text = _text(builder, node, what)
    raw = id_bytes(text)
    if raw is None:
        raise builder.error(line_of(node), bad_id_reason(text, what=what))
    return format_uuid(raw)


def _time(builder: PlanBuilder, node: Node) -> datetime:
    moment = read_datetime(node.value if isinstance(node, ScalarNode) else None)
    if moment is None:
        shown = quote(str(node.value)) if isinstance(node, ScalarNode) else "a list or mapping"
        raise builder.error(line_of(node), f"{shown} is not a time (ISO 8601, e.g. 2026-12-05T10:00:00Z)")
    return moment


def _count(builder: PlanBuilder, node: Node, what: str) -> int:
    text = str(node.value).strip() if isinstance(node, ScalarNode) else ""
    if not text.isdigit() or not text.isascii() or len(text) > 18:
        raise builder.error(line_of(node), f"{what} must be a whole number, 0 or more")
    return int(text)
