"""The YAML format (and JSON documents, which are YAML): loaded whole, meant for small, hand-written plans.

A plan is a mapping ``{service: ..., project_id: ..., deletions: [entry, ...]}`` (``service`` and
``project_id`` optional) or a bare list of entries. A CSBS entry is ``{checkpoint_id: ID}`` (the whole
record) or ``{checkpoint_id: ID, checkpoint_items: [ID, ...]}`` (only these backups); a CBR entry is
``{backup_id: ID}`` or ``{backup_id: ID, vault_id: ID}`` (the vault as a check). ``service: csbs|cbr``
says which service the plan is for: a plan for the other one is refused, and so is an entry with the
other service's keys. A mapping with an ``approval`` header (and ``planned`` and ``kept`` rows) is an
approvable plan: ``worker.plan.approval_yaml`` reads those parts. The node tree comes from ``worker.yamlsource`` (lines,
repeated keys and deep nesting refused); this module checks its shape and feeds the builder.
"""

from __future__ import annotations

from typing import Final

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from worker.errors import PlanError
from worker.plan.approval import APPROVAL_KEYS
from worker.plan.approval_yaml import read_approval
from worker.plan.builder import PlanBuilder
from worker.plan.ids import bad_id_reason, id_bytes
from worker.plan.messages import (
    PLAN_KEYS,
    entry_key_of_any,
    items_problem,
    key_problem,
    service_problem,
)
from worker.plan.model import format_uuid
from worker.plan.schema import Shape
from worker.yamlsource import SHOWN_CHARS, YamlSourceError, compose, line_of, quote

_TAG_WORDS: Final = {
    "tag:yaml.org,2002:str": "a string",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:timestamp": "a date",
}


def read_yaml(builder: PlanBuilder, text: str) -> None:
    """Read a YAML plan into the builder; the first fault raises ``PlanError``."""
    try:
        root = compose(text, builder.source)
    except YamlSourceError as error:
        raise PlanError(error.source, error.line, error.reason) from None
    if root is None or _is_null(root) or _is_empty_collection(root):
        return  # empty, only comments, `---`, `...`, `null`, `~`, `[]` or `{}`: an empty plan
    entry = _cbr_entry if builder.schema.shape is Shape.BACKUPS else _entry
    for node in _entries(builder, root):
        entry(builder, node)


def _entries(builder: PlanBuilder, root: Node) -> list[Node]:
    """The entry nodes: the root list, or the ``deletions`` of the root mapping (checked)."""
    if isinstance(root, SequenceNode):
        return list(root.value)
    if not isinstance(root, MappingNode):
        raise builder.error(
            line_of(root),
            "a YAML plan must be a mapping with 'deletions' (and optional 'service', 'project_id') "
            f"or a list of entries; found {describe_node(root)}",
        )
    fields = _mapping(builder, root, (*PLAN_KEYS, *APPROVAL_KEYS), "plan")
    if "service" in fields:  # first: a plan for the other service is refused as that, not for its entries
        _service(builder, fields["service"])
    if "project_id" in fields:
        _project(builder, fields["project_id"])
    if any(key in fields for key in APPROVAL_KEYS):  # an approvable plan (worker.plan.approval)
        builder.approve(read_approval(builder, fields, root))
    deletions = fields.get("deletions")
    if deletions is None:
        raise builder.error(line_of(root), "the plan has no 'deletions' list")
    if _is_null(deletions):
        return []  # `deletions:` with nothing under it: an empty plan
    if not isinstance(deletions, SequenceNode):
        raise builder.error(line_of(deletions), f"'deletions' must be a list, found {describe_node(deletions)}")
    return list(deletions.value)


def _entry(builder: PlanBuilder, node: Node) -> None:
    line = line_of(node)
    if not isinstance(node, MappingNode):
        raise builder.error(line, f"an entry must be {builder.schema.shape_text()}, found {describe_node(node)}")
    fields = _mapping(builder, node, builder.schema.keys, "entry")
    checkpoint_node = fields.get("checkpoint_id")
    if checkpoint_node is None:
        raise builder.error(line, "the entry has no checkpoint_id")
    checkpoint = _id(builder, checkpoint_node)
    items = fields.get("checkpoint_items")
    if items is None:
        builder.add_whole(checkpoint, line)
        return
    if not isinstance(items, SequenceNode) or not items.value:
        empty = _is_null(items) or isinstance(items, SequenceNode)
        raise builder.error(line_of(items), items_problem(describe_node(items), empty=empty))
    owner = format_uuid(checkpoint)
    for item in items.value:
        builder.add_item(checkpoint, _id(builder, item, owner), line_of(item))


def _cbr_entry(builder: PlanBuilder, node: Node) -> None:
    line = line_of(node)
    if not isinstance(node, MappingNode):
        raise builder.error(line, f"an entry must be {builder.schema.shape_text()}, found {describe_node(node)}")
    fields = _mapping(builder, node, builder.schema.keys, "entry")
    backup_node = fields.get("backup_id")
    if backup_node is None:
        raise builder.error(line, "the entry has no backup_id")
    backup = _id(builder, backup_node, what="backup_id")
    vault_node = fields.get("vault_id")
    vault = None if vault_node is None else _id(builder, vault_node, what="vault_id")
    builder.add_backup(backup, vault, line)


def _mapping(builder: PlanBuilder, node: MappingNode, allowed: tuple[str, ...], what: str) -> dict[str, Node]:
    """The values of a mapping by key, refusing odd and unknown keys (the loader refuses repeated ones)."""
    fields: dict[str, Node] = {}
    for key_node, value_node in node.value:
        line = line_of(key_node)
        if not isinstance(key_node, ScalarNode) or _is_null(key_node):
            raise builder.error(line, f"a key must be a name, found {describe_node(key_node)}")
        key = str(key_node.value)
        if key not in allowed:
            entry_key = entry_key_of_any(key, builder.schema)
            hint = " (entries go in a 'deletions' list)" if entry_key and what == "plan" else ""
            raise builder.error(line, key_problem(key, builder.schema, what) + hint)
        fields[key] = value_node
    return fields


def _id(builder: PlanBuilder, node: Node, checkpoint: str | None = None, what: str | None = None) -> bytes:
    """The id in a YAML scalar: a checkpoint id, an item id of the given checkpoint, or the key ``what`` names."""
    if not isinstance(node, ScalarNode) or _is_null(node):
        key = what or ("checkpoint_id" if checkpoint is None else f"an item id of checkpoint {checkpoint}")
        raise builder.error(line_of(node), f"{key} must be a string, found {describe_node(node)}")
    text = str(node.value)
    raw = id_bytes(text)
    if raw is None:
        kind = what.replace("_", " ") if what else None
        raise builder.error(line_of(node), bad_id_reason(text, checkpoint, what=kind))
    return raw


def _service(builder: PlanBuilder, node: Node) -> None:
    value = str(node.value).strip().lower() if isinstance(node, ScalarNode) and not _is_null(node) else ""
    if value not in builder.schema.names:
        raise builder.error(line_of(node), service_problem(describe_node(node), builder.schema))
    builder.declare_service(value, line_of(node))


def _project(builder: PlanBuilder, node: Node) -> None:
    if not isinstance(node, ScalarNode) or _is_null(node) or not str(node.value).strip():
        raise builder.error(line_of(node), f"project_id must be a project id, found {describe_node(node)}")
    builder.declare_project(str(node.value).strip(), line_of(node))


def describe_node(node: Node) -> str:
    """What a YAML node is, for a message: ``a string 'abc'``, ``a list``, ``nothing (null)``."""
    if isinstance(node, SequenceNode):
        return "an empty list" if not node.value else "a list"
    if isinstance(node, MappingNode):
        return "a mapping"
    if _is_null(node):
        return "nothing (null)"
    words = _TAG_WORDS.get(node.tag, "a value")
    value = str(node.value)
    if words == "a string" or len(value) > SHOWN_CHARS:
        return f"{words} {quote(value)}"
    return f"{words} {value}"


def _is_empty_collection(node: Node) -> bool:
    return isinstance(node, (MappingNode, SequenceNode)) and not node.value


def _is_null(node: Node) -> bool:
    return node.tag == "tag:yaml.org,2002:null"
