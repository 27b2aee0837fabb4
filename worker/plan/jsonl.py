"""The JSON Lines format: one entry object per line, with the keys of a YAML entry. Streamed.

An entry is ``{"checkpoint_id": ..., "checkpoint_items": [...]}`` for CSBS, ``{"backup_id": ...,
"vault_id": ...}`` (``vault_id`` optional, a check) for CBR; an entry of the other service is refused.
Blank lines and lines starting with ``#`` are ignored. ``project_id`` and ``service`` are not accepted in
an entry (they are facts about the whole plan, so only a plan document carries them); a line with one is
refused rather than silently read. Each line is parsed with ``load_json``, which turns what ``json.loads``
would crash on or silently accept (nesting a thousand levels deep, a number of thousands of digits, a key
given twice) into a message for that line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Final

from worker.plan.builder import PlanBuilder
from worker.plan.ids import bad_id_reason, id_bytes
from worker.plan.messages import items_problem, key_problem
from worker.plan.model import format_uuid
from worker.plan.schema import Shape
from worker.yamlsource import quote

_MAX_NUMBER_DIGITS: Final = 100  # no entry holds a number; a longer one is refused before int() sees it


class JsonValueError(Exception):
    """A line that is not one sound JSON value; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def load_json(text: str) -> object:
    """One JSON value, or ``JsonValueError`` for bad syntax, deep nesting, huge numbers and repeated keys."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_int=_bounded_int)
    except json.JSONDecodeError as error:
        raise JsonValueError(f"not valid JSON: {error.msg} (column {error.colno})") from None
    except RecursionError:
        raise JsonValueError("not valid JSON for a plan: nested far too deeply (an entry needs two levels)") from None


def read_jsonl(builder: PlanBuilder, lines: Iterable[str]) -> None:
    """Read JSON Lines into the builder; the first bad line raises ``PlanError``."""
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            entry = load_json(text)
        except JsonValueError as error:
            raise builder.error(number, error.reason) from None
        read_entry(builder, entry, number)


def read_entry(builder: PlanBuilder, entry: object, line: int) -> None:
    """Check one entry object and add its tasks."""
    if not isinstance(entry, dict):
        raise builder.error(line, f"an entry must be a JSON object, found {describe(entry)}")
    if "deletions" in entry:
        raise builder.error(line, "this line is a whole plan, not a JSON Lines entry: use --format yaml or auto")
    for key in ("project_id", "service"):
        if key in entry:
            raise builder.error(
                line,
                f'{key} is not read from a JSON Lines entry: it belongs to a whole plan ({{"{key}": ..., '
                '"deletions": [...]} or YAML)',
            )
    allowed = builder.schema.keys
    for key in entry:
        if key not in allowed:
            raise builder.error(line, key_problem(key, builder.schema, "entry"))
    if builder.schema.shape is Shape.BACKUPS:
        _cbr_entry(builder, entry, line)
        return
    if "checkpoint_id" not in entry:
        raise builder.error(line, "the entry has no checkpoint_id")
    checkpoint = _id(builder, entry["checkpoint_id"], line, None)
    if "checkpoint_items" not in entry:
        builder.add_whole(checkpoint, line)
        return
    items = entry["checkpoint_items"]
    if not isinstance(items, list) or not items:
        raise builder.error(line, items_problem(describe(items), empty=items == [] or items is None))
    owner = format_uuid(checkpoint)
    for item in items:
        builder.add_item(checkpoint, _id(builder, item, line, owner), line)


def _cbr_entry(builder: PlanBuilder, entry: dict[str, object], line: int) -> None:
    """Check one CBR entry (keys already checked) and add its backup."""
    if "backup_id" not in entry:
        raise builder.error(line, "the entry has no backup_id")
    backup = _id(builder, entry["backup_id"], line, None, what="backup_id")
    vault = _id(builder, entry["vault_id"], line, None, what="vault_id") if "vault_id" in entry else None
    builder.add_backup(backup, vault, line)


def describe(value: object) -> str:
    """What a JSON value is, for a message: ``a number 12``, ``a list``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"a number {value}"
    if isinstance(value, str):
        return f"a string {quote(value)}"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return "an object"


def _id(builder: PlanBuilder, value: object, line: int, checkpoint: str | None, what: str | None = None) -> bytes:
    """The 16 bytes of a checkpoint id, of an item id of the given checkpoint, or of the key ``what`` names."""
    if not isinstance(value, str):
        key = what or ("checkpoint_id" if checkpoint is None else f"an item id of checkpoint {checkpoint}")
        raise builder.error(line, f"{key} must be a string, found {describe(value)}")
    raw = id_bytes(value)
    if raw is None:
        kind = what.replace("_", " ") if what else None
        raise builder.error(line, bad_id_reason(value, checkpoint, what=kind))
    return raw


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """An object's keys and values, refusing a repeated key (json.loads would silently keep the last)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonValueError(f"key {quote(key)} is given twice")
            seen.add(key)
    return result


def _bounded_int(text: str) -> int:
    if len(text) > _MAX_NUMBER_DIGITS:
        raise JsonValueError(f"a number of {len(text)} digits: no value of a plan is such a number")
    return int(text)
