"""The plan formats and how ``"auto"`` tells them apart.

``yaml``
    A plan mapping or a bare list of entries (see ``worker.plan.yaml_plan``); also a JSON document
    ``{"deletions": [...]}`` or a JSON array of entries, since JSON is YAML. Loaded whole.
``text``
    One entry per line: ``CHECKPOINT_ID [ITEM_ID ...]``, or for CBR ``BACKUP_ID`` (see
    ``worker.plan.text``). Streamed.
``jsonl``
    One entry object per line (see ``worker.plan.jsonl``). Streamed.

``fmt="auto"`` decides per source from its first line that is neither blank nor a ``#`` comment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain
from typing import Final, Literal, TypeAlias

from worker.plan.jsonl import JsonValueError, load_json

Format: TypeAlias = Literal["yaml", "text", "jsonl"]
"""A plan format; ``read_plan`` also takes ``"auto"``."""

FORMATS: Final = ("auto", "yaml", "text", "jsonl")

_JSON_OBJECT_RE: Final = re.compile(r"\{\s*\"")
_JSON_DOCUMENT_RE: Final = re.compile(r"\{\s*\"(?:deletions|project_id|service)\"\s*:")
_ENTRY_KEYS: Final = ("checkpoint_id", "backup_id")
_ID_START_RE: Final = re.compile(r"(?:[uU][rR][nN]:[uU][uU][iI][dD]:)?\{?[0-9a-fA-F]{8}-")
_YAML_FIRST_CHARS: Final = frozenset("-[{%!&*?|>'\"")
_YAML_NOTHING: Final = frozenset({"~", "null", "Null", "NULL", "..."})  # a null document, or a document end


def detect_format(first_meaningful_line: str) -> Format:
    """The format of a plan, from its first line that is neither blank nor a ``#`` comment.

    ``{"`` opens a JSON Lines entry, unless the line is (or opens) a whole plan document: an object with
    ``deletions``, or with ``project_id`` or ``service`` and no ``checkpoint_id`` or ``backup_id``; that is
    read as YAML. A line that opens
    with something like an id (8 hex digits and a dash, perhaps after ``{`` or ``urn:uuid:``) is plain
    text, so a slightly wrong id gets a "bad checkpoint id" message that says what is wrong with it. A line
    with a ``:`` (``deletions:``, ``- checkpoint_id: ...``), one opening with YAML syntax (``-``, ``---``,
    ``[``, ``{``, ``%YAML``, ...) or one that is YAML's nothing (``null``, ``~``, ``...``) is YAML, so that
    every spelling of an empty plan reads as one (docs/plans.md). Anything else is plain text. A trailing
    ``#`` comment is ignored first, so ``word  # note: old`` is text.
    """
    line = first_meaningful_line.strip()
    if _JSON_OBJECT_RE.match(line):
        return "yaml" if _is_json_document(line) else "jsonl"
    if _ID_START_RE.match(line):
        return "text"
    line = line.split("#", 1)[0]
    if ":" in line or line[:1] in _YAML_FIRST_CHARS or line.strip() in _YAML_NOTHING:
        return "yaml"
    return "text"


def sniff(lines: Iterator[str]) -> tuple[Format, Iterator[str]]:
    """Detect the format from the first meaningful line; give back every line, the read ones too."""
    head: list[str] = []
    for line in lines:
        head.append(line)
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return detect_format(stripped), chain(head, lines)
    return "text", iter(head)  # only blanks and comments: no entries in any format


def _is_json_document(line: str) -> bool:
    """Whether a line opening a JSON object is a whole plan rather than one entry."""
    try:
        value = load_json(line)
    except JsonValueError:
        return _JSON_DOCUMENT_RE.match(line) is not None  # a document spread over several lines
    if not isinstance(value, dict):
        return False
    if "deletions" in value:
        return True
    plan_key = "project_id" in value or "service" in value
    return plan_key and not any(key in value for key in _ENTRY_KEYS)
