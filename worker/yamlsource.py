"""The one YAML loader of plans, policies and the config file: a node tree with lines, errors at ``source:line``.

Callers walk the composed nodes rather than loaded data, so every message can name the line it is about.
This module builds those nodes itself, from the parser's event stream (libyaml's ``CSafeLoader`` when
present: much faster, same events and marks), for three reasons:

- PyYAML's composer recurses once per nesting level, so a document nested a few thousand levels deep ends
  in ``RecursionError``; here the open collections are an explicit stack, and nesting deeper than
  ``MAX_DEPTH`` is refused at its line (no plan, policy or config file needs more than four levels).
- PyYAML keeps the last of two equal keys silently; here a key given twice in any mapping is refused.
- A reader error (a control character) carries a character position, not a mark; here it gets a line.

Values echoed in messages go through ``quote``, so a 5 MB value comes back as its first characters and its
length, never whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError
from yaml.resolver import Resolver

MAX_DEPTH: Final = 64  # nested collections accepted; the deepest real file needs 4
SHOWN_CHARS: Final = 60  # longest value echoed whole in a message
_PROBLEM_CHARS: Final = 160  # longest parser message kept (some quote the input)
# libyaml is much faster when present; both give the same events and marks.
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER: Final = Resolver()  # the implicit tags of YAML 1.1, as SafeLoader resolves them
_BREAK: Final = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a line break
_BYTE_BREAK: Final = re.compile(b"\r\n|[\r\n]")
# Blank and comment lines, and document end markers, before the first document. YAML 1.2 lets a stream open
# with `...` (the end of an empty document); PyYAML, a YAML 1.1 parser, refuses it.
_OPENING_ENDS: Final = re.compile(r"\A(?:[ \t]*(?:#[^\r\n]*)?(?:\r\n|[\r\n])"
                                  r"|\.\.\.(?:[ \t]+#[^\r\n]*|[ \t]*)(?:\r\n|[\r\n]|\Z))+")
_END_MARKER: Final = re.compile(r"^\.\.\.", re.MULTILINE)
_TAG_WORDS: Final = {
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:timestamp": "a date",
}


class YamlSourceError(Exception):
    """A YAML source that cannot be read as a node tree; callers re-raise it as their own error type."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


def quote(text: str) -> str:
    """A value quoted for a message; a long one is cut, with its length, so messages stay one short line."""
    if len(text) <= SHOWN_CHARS:
        return repr(text)
    return f"{text[:SHOWN_CHARS]!r}... ({len(text)} characters)"


def line_of(node: Node) -> int:
    """The 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def read_file(path: str, what: str) -> str:
    """The text of a UTF-8 file (a leading BOM dropped); ``what`` names it in errors ("the policy")."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise YamlSourceError(path, None, f"cannot read {what}: {error.strerror or error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = len(_BYTE_BREAK.findall(data, 0, error.start)) + 1
        raise YamlSourceError(path, line, f"{what} is not UTF-8 text") from None


def compose(text: str, source: str) -> Node | None:
    """The root node of the single document in ``text``; None when there is none (empty, only comments)."""
    try:
        return _Composer(source).compose(yaml.parse(_opening_ends_blanked(text), Loader=_LOADER))
    except ReaderError as error:
        raise YamlSourceError(source, _reader_error_line(text, error), _reader_problem(error)) from None
    except yaml.MarkedYAMLError as error:
        raise _syntax_error(source, error) from None
    except yaml.YAMLError as error:
        raise YamlSourceError(source, None, f"not valid YAML: {_cut(str(error))}") from None


def _opening_ends_blanked(text: str) -> str:
    """``text`` with the document end markers that open it blanked (lines and columns kept), so that ``...``
    alone reads as no document, as ``---`` alone does."""
    head = _OPENING_ENDS.match(text)
    if head is None or "..." not in head.group():
        return text
    return _END_MARKER.sub("   ", head.group()) + text[head.end():]


def construct(node: Node, source: str) -> Any:
    """The Python value of a node as YAML's safe loader makes it (str, int, bool, None, list, dict, ...)."""
    try:
        return SafeConstructor().construct_document(node)
    except ConstructorError as error:
        mark = error.problem_mark or node.start_mark
        reason = f"cannot read this value: {_cut(str(error.problem))}"
        raise YamlSourceError(source, int(mark.line) + 1, reason) from None
    except (ValueError, OverflowError):  # a number of more than 4,300 digits, a 30th of February, ...
        if isinstance(node, ScalarNode):
            reason = f"cannot read {quote(str(node.value))} as {_TAG_WORDS.get(node.tag, 'a value')}"
        else:
            reason = "cannot read a value of this list or mapping (a number too long, a date that is not)"
        raise YamlSourceError(source, line_of(node), reason) from None


@dataclass
class _Open:
    """A collection being composed: its node, and for a mapping its keys so far and a key awaiting a value."""

    node: CollectionNode
    keys: dict[str, int] = field(default_factory=dict)  # scalar key -> its line
    key: Node | None = None


class _Composer:
    """Builds the node tree from parser events without recursion, refusing deep nesting and repeated keys."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.anchors: dict[str, Node] = {}
        self.stack: list[_Open] = []
        self.root: Node | None = None

    def compose(self, events: Iterable[Event]) -> Node | None:
        documents = 0
        for event in events:
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self._error(event, "not valid YAML: expected a single document, but found another one")
            elif isinstance(event, (SequenceEndEvent, MappingEndEvent)):
                self.stack.pop().node.end_mark = event.end_mark
            elif isinstance(event, (AliasEvent, ScalarEvent, CollectionStartEvent)):
                self._add(event)
        return self.root

    def _add(self, event: AliasEvent | ScalarEvent | CollectionStartEvent) -> None:
        node = self._alias(event) if isinstance(event, AliasEvent) else self._node(event)
        if event.anchor is not None and not isinstance(event, AliasEvent):
            self.anchors[event.anchor] = node
        self._attach(node)
        if isinstance(event, CollectionStartEvent):
            if len(self.stack) >= MAX_DEPTH:
                raise self._error(event, f"nested more than {MAX_DEPTH} levels deep; no input needs that")
            assert isinstance(node, CollectionNode)
            self.stack.append(_Open(node))

    def _node(self, event: ScalarEvent | CollectionStartEvent) -> Node:
        start: Any = event.start_mark  # libyaml's marks are typed apart, but carry the same line
        end: Any = event.end_mark
        if isinstance(event, ScalarEvent):
            tag = _tag(ScalarNode, event, event.value)
            return ScalarNode(tag, event.value, start, end, style=event.style)
        kind = SequenceNode if isinstance(event, SequenceStartEvent) else MappingNode
        return kind(_tag(kind, event, None), [], start, None, flow_style=event.flow_style)

    def _alias(self, event: AliasEvent) -> Node:
        node = self.anchors.get(str(event.anchor))
        if node is None:
            raise self._error(event, f"not valid YAML: found undefined alias {quote(str(event.anchor))}")
        if any(open_.node is node for open_ in self.stack):
            raise self._error(event, f"the alias {quote(str(event.anchor))} refers to a collection that holds it")
        return node

    def _attach(self, node: Node) -> None:
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1]
        if isinstance(parent.node, SequenceNode):
            parent.node.value.append(node)
        elif parent.key is None:
            self._check_new_key(parent, node)
            parent.key = node
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None

    def _check_new_key(self, mapping: _Open, key: Node) -> None:
        if not isinstance(key, ScalarNode):
            return  # callers refuse keys that are not names, each in its own words
        name = str(key.value)
        first = mapping.keys.get(name)
        if first is not None:
            reason = f"key {quote(name)} appears twice (first at line {first}); keep one"
            raise YamlSourceError(self.source, line_of(key), reason)
        mapping.keys[name] = line_of(key)

    def _error(self, event: Event, reason: str) -> YamlSourceError:
        mark: Any = event.start_mark
        return YamlSourceError(self.source, int(mark.line) + 1, reason)


def _tag(kind: type[Node], event: ScalarEvent | CollectionStartEvent, value: str | None) -> str:
    """The node's tag: the one written, else the one YAML 1.1 implies (as SafeLoader resolves it)."""
    if event.tag not in (None, "!"):
        return str(event.tag)
    return str(_RESOLVER.resolve(kind, value, event.implicit))  # type: ignore[no-untyped-call]


def _syntax_error(source: str, error: yaml.MarkedYAMLError) -> YamlSourceError:
    mark = error.problem_mark or error.context_mark
    message = f"not valid YAML: {_cut(str(error.problem or error.context))}"
    if error.problem and error.context and error.context_mark is not None:
        message += f" ({_cut(str(error.context))} at line {error.context_mark.line + 1})"
    line = int(mark.line) + 1 if mark is not None else None
    return YamlSourceError(source, line, message)


def _reader_error_line(text: str, error: ReaderError) -> int:
    """The line of the character the reader refused (its position is in characters, or bytes for libyaml)."""
    index = text.find(chr(error.character)) if isinstance(error.character, int) else -1
    if index < 0:
        index = min(int(error.position), len(text))
    return len(_BREAK.findall(text, 0, index)) + 1


def _reader_problem(error: ReaderError) -> str:
    if isinstance(error.character, int):
        return f"not valid YAML: the control character U+{error.character:04X} is not allowed; remove it"
    return f"not valid YAML: {_cut(str(error.reason))}"


def _cut(text: str) -> str:
    return text if len(text) <= _PROBLEM_CHARS else text[:_PROBLEM_CHARS] + "..."
