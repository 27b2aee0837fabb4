"""A plan document as YAML, exactly as ``yaml.safe_dump(document, sort_keys=False, default_flow_style=None,
width=1000)`` writes it, in a fraction of the time for the plans a planner makes.

Why not PyYAML alone: its emitter is pure Python (its C one still represents and resolves every scalar in
Python) and takes 6 s for a plan of 76,000 deletions, more than everything else the planner does for
100,000 backups. The plans the planner makes have one shape, top-level scalars and then ``deletions``, a
list of mappings of scalars or lists of scalars, and their ids are UUIDs, which YAML writes plain. This
module writes that shape itself when every scalar is one YAML writes plain and resolves back to the same
string, and every line fits the width (so PyYAML would not wrap it); anything else goes to PyYAML, whose
output it is tested to match.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import yaml
from yaml.nodes import ScalarNode

WIDTH: Final = 1000
_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_WORD: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]*")
_STR_TAG: Final = "tag:yaml.org,2002:str"
_RESOLVER: Final = yaml.resolver.Resolver()


def dump_plan(document: Mapping[str, Any]) -> str:
    """The document as ``yaml.safe_dump`` writes it with the plan's options."""
    fast = plain_plan(document)
    if fast is not None:
        return fast
    return yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=None, width=WIDTH)


def plain_plan(document: Mapping[str, Any]) -> str | None:
    """The YAML of a plan whose scalars are all plain words; None for any other document."""
    lines: list[str] = []
    for key, value in document.items():
        if key == "deletions" and isinstance(value, list):
            entries = _entries(value)
            if entries is None:
                return None
            lines.append("deletions: []" if not value else "deletions:")
            lines.extend(entries)
        elif _plain_key(key) and _plain(value):
            lines.append(f"{key}: {value}")
        else:
            return None
    if any(len(line) > WIDTH for line in lines):
        return None
    lines.append("")
    return "\n".join(lines)


def _entries(entries: Sequence[Any]) -> list[str] | None:
    """The lines of the ``deletions`` list: a mapping of scalars in flow style (``- {a: 1, b: 2}``), one
    holding a list in block style with the list in flow style (``- a: 1`` / ``  b: [x, y]``)."""
    lines: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry:
            return None
        pairs = []
        for key, value in entry.items():
            shown = _flow_list(value) if isinstance(value, list) else (value if _plain(value) else None)
            if shown is None or not _plain_key(key):
                return None
            pairs.append((key, shown))
        if any(isinstance(value, list) for value in entry.values()):
            lines.extend(("- " if n == 0 else "  ") + f"{key}: {shown}" for n, (key, shown) in enumerate(pairs))
        else:
            lines.append("- {" + ", ".join(f"{key}: {shown}" for key, shown in pairs) + "}")
    return lines


def _flow_list(values: list[Any]) -> str | None:
    if not all(_plain(value) for value in values):
        return None
    return "[" + ", ".join(values) + "]"


@functools.lru_cache(maxsize=64)
def _plain_key(key: object) -> bool:
    """``_plain`` for a mapping's key: the same few keys come in every entry."""
    return _plain(key)


def _plain(value: object) -> bool:
    """Whether YAML writes this value as a plain scalar that reads back as the same string."""
    if not isinstance(value, str):
        return False
    if _UUID.fullmatch(value):
        return True
    if _WORD.fullmatch(value) is None:
        return False
    tag = _RESOLVER.resolve(ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]  # PyYAML's own
    return bool(tag == _STR_TAG)
