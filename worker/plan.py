"""Read deletion plans (YAML, plain text or JSON Lines) into one checked, compact list of tasks.

A plan lists what must go; a task is one DELETE: a whole record (``item_id is None``) or one backup of a
record. ``read_plan`` checks everything before it returns, so an invalid plan never yields a single task:
any fault raises ``PlanError(source, line, message)``.

Formats (``fmt="auto"`` decides per source from its first line that is neither blank nor a ``#`` comment,
see ``detect_format``):

``yaml``
    A mapping ``{project_id: ..., deletions: [entry, ...]}`` (``project_id`` optional) or a bare list of
    entries. An entry is ``{checkpoint_id: ID}`` (the whole record) or ``{checkpoint_id: ID,
    checkpoint_items: [ID, ...]}`` (only these backups). Loaded whole: meant for small, hand-written plans.
``text``
    One entry per line: ``CHECKPOINT_ID`` or ``CHECKPOINT_ID ITEM_ID [ITEM_ID ...]``; ``#`` starts a
    comment (whole line or trailing); blank lines are ignored. Streamed: the format for huge plans.
``jsonl``
    One entry object per line, with the keys of a YAML entry. Blank lines and lines starting with ``#``
    are ignored. ``project_id`` is not accepted here (it is a fact about the whole plan, so only the YAML
    mapping carries it); a line with it is refused rather than silently read. Streamed.

IDs are UUIDs in the canonical 8-4-4-4-12 form, in any case; they are normalised to lower case.

Memory: a million-line plan must not need a Python object per task. Tasks are kept as 32-byte records
(checkpoint id + item id, zeros for a whole record) in one ``bytearray``, a one-byte whole-record flag and
a 4-byte line number each; the source of a task is found by bisecting the first task index of each source.
``Task`` objects are made only when the ``Plan`` is indexed or iterated.

Duplicates are merged, never fatal: the same (checkpoint, item) twice, or an item whose whole record is
also listed (in any order, in any source), becomes one task. Deduplication uses a set of the 32-byte
records while reading (the record itself is the key, so no hash collision can merge two different tasks);
whole-record entries are kept in a dict from checkpoint id to task index, and items listed *before* their
whole record are dropped in one pass at the end. Each merge is reported through ``on_warning`` naming both
places; only the first ``MAX_DUPLICATE_WARNINGS`` are itemised, then one summary gives the total.
Warnings are given only for a valid plan (an invalid one gets its error alone).
"""

from __future__ import annotations

import binascii
import bisect
import json
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import IO, Final, Literal, TextIO, TypeAlias, overload

import yaml

from worker.errors import PlanError

Format: TypeAlias = Literal["yaml", "text", "jsonl"]
"""A plan format; ``read_plan`` also takes ``"auto"``."""

FORMATS: Final = ("auto", "yaml", "text", "jsonl")
STDIN_SOURCE: Final = "<stdin>"  # the source name of a plan read from standard input
MAX_DUPLICATE_WARNINGS: Final = 20  # itemised duplicate warnings; the rest are only counted

ENTRY_KEYS: Final = ("checkpoint_id", "checkpoint_items")
PLAN_KEYS: Final = ("project_id", "deletions")

_UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_JSON_OBJECT_RE: Final = re.compile(r"\{\s*\"")
_ID_START_RE: Final = re.compile(r"\{?[0-9a-fA-F]{8}-")
_YAML_FIRST_CHARS: Final = frozenset("-[{%!&*?|>'\"")
_ID_BYTES: Final = 16
_RECORD: Final = 2 * _ID_BYTES  # checkpoint id + item id
_NO_ITEM: Final = bytes(_ID_BYTES)
_SHOWN_CHARS: Final = 60  # longest value quoted in a message
# libyaml is much faster when present; both give the same nodes and marks.
_YAML_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Task:
    """One DELETE: a whole backup record, or one backup (item) of it."""

    checkpoint_id: str  # lower-case canonical UUID
    item_id: str | None  # None = the whole record
    source: str  # where it was listed: a path, or "<stdin>"
    line: int | None  # 1-based line in that source


class Plan(Sequence[Task]):
    """The tasks of a plan, deduplicated, in the order first listed; ``Task`` objects are made on access."""

    __slots__ = ("_keys", "_lines", "_starts", "_whole", "project_id", "sources")

    def __init__(
        self,
        *,
        sources: tuple[str, ...] = (),
        starts: Sequence[int] = (),
        keys: bytearray | None = None,
        whole: bytearray | None = None,
        lines: array[int] | None = None,
        project_id: str | None = None,
    ) -> None:
        self.sources = sources  #: every source read, in order ("<stdin>" for standard input)
        self.project_id = project_id  #: the project the plan declares (YAML ``project_id``), if any
        self._starts = list(starts)  # index of the first task of each source
        self._keys = keys if keys is not None else bytearray()
        self._whole = whole if whole is not None else bytearray()
        self._lines = lines if lines is not None else array("I")

    def __len__(self) -> int:
        return len(self._whole)

    @overload
    def __getitem__(self, index: int) -> Task: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Task]: ...

    def __getitem__(self, index: int | slice) -> Task | Sequence[Task]:
        if isinstance(index, slice):
            return [self._task(i) for i in range(len(self))[index]]
        return self._task(range(len(self))[index])  # range does the bounds and negative indexes

    def __iter__(self) -> Iterator[Task]:
        return (self._task(i) for i in range(len(self)))

    def __repr__(self) -> str:
        whole, items = self.counts()
        return f"<Plan {len(self)} tasks ({whole} whole-record, {items} single-backup) from {self.sources}>"

    def counts(self) -> tuple[int, int]:
        """The number of whole-record tasks and of single-backup tasks."""
        whole = self._whole.count(1)
        return whole, len(self) - whole

    def _task(self, i: int) -> Task:
        offset = i * _RECORD
        record = self._keys[offset : offset + _RECORD]
        item = None if self._whole[i] else _format_uuid(record[_ID_BYTES:])
        source = self.sources[bisect.bisect_right(self._starts, i) - 1]
        return Task(_format_uuid(record[:_ID_BYTES]), item, source, self._lines[i])


def detect_format(first_meaningful_line: str) -> Format:
    """The format of a plan, from its first line that is neither blank nor a ``#`` comment.

    ``{"`` opens a JSON Lines entry. A line that opens with something like an id (8 hex digits and a
    dash, perhaps after a ``{``) is plain text, so a slightly wrong id gets a "bad checkpoint id" message.
    A line with a ``:`` (``deletions:``, ``- checkpoint_id: ...``) or one opening with YAML syntax (``-``,
    ``---``, ``[``, ``{``, ``%YAML``, ...) is YAML. Anything else is plain text. A trailing ``#`` comment
    is ignored first, so ``word  # note: old`` is text.
    """
    line = first_meaningful_line.strip()
    if _JSON_OBJECT_RE.match(line):
        return "jsonl"
    if _ID_START_RE.match(line):
        return "text"
    line = line.split("#", 1)[0]
    if ":" in line or line[:1] in _YAML_FIRST_CHARS:
        return "yaml"
    return "text"


def read_plan(
    sources: Sequence[str],
    *,
    fmt: str = "auto",
    project_id: str | None = None,
    stdin: TextIO | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Plan:
    """Read and check every source into one plan, or raise ``PlanError`` for the first fault.

    Args:
        sources: plan files; ``-`` is standard input, and no source at all means ``["-"]``.
        fmt: ``"auto"`` (decided per source, see ``detect_format``), ``"yaml"``, ``"text"`` or ``"jsonl"``.
        project_id: the configured project; a YAML ``project_id`` must equal it (case-insensitive).
            None skips that check, but the plan's own ``project_id`` values must still agree.
        stdin: what ``-`` reads; defaults to ``sys.stdin`` (read as bytes, to name the line of bad UTF-8).
        on_warning: told about each merged duplicate (capped, then a summary); nothing is told when the
            plan is invalid.
    """
    if isinstance(sources, str):
        raise TypeError("sources must be a sequence of paths, not one string")
    if fmt not in FORMATS:
        raise ValueError(f"unknown plan format {fmt!r}; expected one of {', '.join(FORMATS)}")
    names = list(sources) or ["-"]
    if names.count("-") > 1:
        raise PlanError(STDIN_SOURCE, None, "'-' (standard input) is given more than once")
    builder = _PlanBuilder(project_id)
    for name in names:
        _read_source(builder, name, fmt, stdin)
    plan = builder.finish()
    if on_warning is not None:
        for warning in builder.warnings:
            on_warning(warning)
    return plan


# --- sources and lines ----------------------------------------------------------------------------------


def _read_source(builder: _PlanBuilder, name: str, fmt: str, stdin: TextIO | None) -> None:
    """Open one source (a path, or ``-``) and feed its lines to the builder."""
    if name == "-":
        builder.begin_source(STDIN_SOURCE)
        _parse(builder, _stdin_lines(stdin), fmt)
        return
    builder.begin_source(name)
    try:
        stream = open(name, "rb")  # noqa: SIM115 - closed below; bytes, to name the line of bad UTF-8
    except OSError as error:
        raise PlanError(name, None, f"cannot read the plan: {error.strerror or error}") from None
    with stream:
        _parse(builder, _decoded_lines(name, stream), fmt)


def _stdin_lines(stdin: TextIO | None) -> Iterator[str]:
    """The lines of standard input (or of the given text stream)."""
    if stdin is None:
        if sys.stdin is None:
            raise PlanError(STDIN_SOURCE, None, "there is no standard input to read the plan from")
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is not None:
            return _decoded_lines(STDIN_SOURCE, buffer)
        stdin = sys.stdin
    return _text_lines(STDIN_SOURCE, stdin)


def _decoded_lines(name: str, stream: IO[bytes]) -> Iterator[str]:
    """Decode a byte stream line by line, so a decoding fault names its line; drops a leading BOM."""
    number = 0
    try:
        for number, raw in enumerate(stream, 1):
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as error:
        raise PlanError(name, number, f"not UTF-8 text (byte {error.start + 1} of the line)") from None
    except OSError as error:
        raise PlanError(name, number + 1, f"cannot read the plan: {error.strerror or error}") from None


def _text_lines(name: str, stream: TextIO) -> Iterator[str]:
    """The lines of an already decoded stream, without a leading BOM."""
    try:
        first = True
        for line in stream:
            yield line.removeprefix("\ufeff") if first else line
            first = False
    except UnicodeDecodeError as error:
        raise PlanError(name, None, f"not UTF-8 text: {error.reason}") from None


def _parse(builder: _PlanBuilder, lines: Iterator[str], fmt: str) -> None:
    """Parse one source in the given (or detected) format."""
    if fmt == "auto":
        fmt, lines = _sniff(lines)
    if fmt == "yaml":
        builder.read_yaml("".join(lines))
    elif fmt == "jsonl":
        builder.read_jsonl(lines)
    else:
        builder.read_text(lines)


def _sniff(lines: Iterator[str]) -> tuple[Format, Iterator[str]]:
    """Detect the format from the first meaningful line; give back every line, the read ones too."""
    head: list[str] = []
    for line in lines:
        head.append(line)
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return detect_format(stripped), chain(head, lines)
    return "text", iter(head)  # only blanks and comments: no entries in any format


# --- building ---------------------------------------------------------------------------------------------


class _PlanBuilder:
    """Collects the tasks of every source compactly, merging duplicates as they come."""

    def __init__(self, project_id: str | None) -> None:
        self.sources: list[str] = []
        self.starts: list[int] = []
        self.keys = bytearray()  # one _RECORD per task: checkpoint id + item id (zeros: whole record)
        self.whole = bytearray()  # 1 for a whole-record task, 0 for a single backup
        self.lines = array("I")
        self.warnings: list[str] = []
        self._seen: set[bytes] = set()  # the records of single-backup tasks
        self._whole_at: dict[bytes, int] = {}  # checkpoint id -> index of its whole-record task
        self._duplicates = 0
        self._project_id = project_id
        self._declared: tuple[str, str] | None = None  # (project id, where) of the first declaration

    @property
    def source(self) -> str:
        """The source being read."""
        return self.sources[-1]

    def begin_source(self, name: str) -> None:
        """Start the tasks of the next source."""
        self.sources.append(name)
        self.starts.append(len(self.whole))

    def finish(self) -> Plan:
        """Drop items covered by a later whole record, add the summary warning, and make the plan."""
        self._seen = set()  # no longer needed: free it before the plan lives on
        if self._whole_at and len(self._whole_at) < len(self.whole):
            self._drop_covered_items()
        if self._duplicates > MAX_DUPLICATE_WARNINGS:
            self.warnings.append(
                f"{self._duplicates} duplicate tasks were merged in total "
                f"(only the first {MAX_DUPLICATE_WARNINGS} are listed)"
            )
        declared = self._declared[0] if self._declared else None
        return Plan(
            sources=tuple(self.sources),
            starts=self.starts,
            keys=self.keys,
            whole=self.whole,
            lines=self.lines,
            project_id=declared,
        )

    # -- formats

    def read_text(self, lines: Iterable[str]) -> None:
        """Read plain-text lines: ``CHECKPOINT_ID [ITEM_ID ...]``, ``#`` comments, blank lines."""
        fullmatch, unhexlify = _UUID_RE.fullmatch, binascii.unhexlify  # hot loop: local names
        for number, line in enumerate(lines, 1):
            tokens = line.split("#", 1)[0].split() if "#" in line else line.split()
            if not tokens:
                continue
            first = tokens[0]
            if fullmatch(first) is None:
                raise self._bad_id(first, number)
            checkpoint = unhexlify(first.replace("-", ""))
            if len(tokens) == 1:
                self.add_whole(checkpoint, number)
            for token in tokens[1:]:
                if fullmatch(token) is None:
                    raise self._bad_id(token, number, first.lower())
                self.add_item(checkpoint, unhexlify(token.replace("-", "")), number)

    def read_jsonl(self, lines: Iterable[str]) -> None:
        """Read JSON Lines: one entry object per line; blank and ``#`` lines are ignored."""
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                entry = json.loads(text, object_pairs_hook=_unique_keys)
            except json.JSONDecodeError as error:
                raise PlanError(self.source, number, f"not valid JSON: {error.msg} (column {error.colno})") from None
            except _DuplicateKeyError as error:
                raise PlanError(self.source, number, f"key {error.key!r} is given twice") from None
            self._json_entry(entry, number)

    def read_yaml(self, text: str) -> None:
        """Read a YAML plan: a mapping with ``deletions`` (and ``project_id``), or a list of entries."""
        try:
            root = yaml.compose(text, Loader=_YAML_LOADER)
        except yaml.MarkedYAMLError as error:
            raise self._yaml_syntax_error(error) from None
        except yaml.YAMLError as error:
            raise PlanError(self.source, None, f"not valid YAML: {error}") from None
        if root is None or _is_null(root):
            return  # empty, only comments, or a bare `---`
        for entry in self._yaml_entries(root):
            self._yaml_entry(entry)

    # -- tasks and duplicates

    def add_whole(self, checkpoint: bytes, line: int) -> None:
        """Add the task to delete a whole record, unless it is already there."""
        first = self._whole_at.get(checkpoint)
        if first is not None:
            where = f"{self._place(first)} and again at {self.source}:{line}"
            self._merged(lambda: f"the whole record {_format_uuid(checkpoint)} is listed at {where}; deleted once")
            return
        self._whole_at[checkpoint] = len(self.whole)
        self._append(checkpoint + _NO_ITEM, 1, line)

    def add_item(self, checkpoint: bytes, item: bytes, line: int) -> None:
        """Add the task to delete one backup, unless it or its whole record is already there."""
        whole = self._whole_at.get(checkpoint)
        if whole is not None:
            here = f"{self.source}:{line}"
            self._merged(partial(_covered_message, checkpoint, item, here, self._place(whole)))
            return
        record = checkpoint + item
        if record in self._seen:
            self._merged(partial(self._repeated_item_message, record, f"{self.source}:{line}"))
            return
        self._seen.add(record)
        self._append(record, 0, line)

    def _append(self, record: bytes, whole: int, line: int) -> None:
        self.keys += record
        self.whole.append(whole)
        self.lines.append(line)

    def _merged(self, message: Callable[[], str]) -> None:
        """Count one merged duplicate; word it only while under the cap (finding the first place scans)."""
        self._duplicates += 1
        if self._duplicates <= MAX_DUPLICATE_WARNINGS:
            self.warnings.append(message())

    def _repeated_item_message(self, record: bytes, here: str) -> str:
        first = self._place(self._find_item(record))
        checkpoint, item = _format_uuid(record[:_ID_BYTES]), _format_uuid(record[_ID_BYTES:])
        return f"item {item} of checkpoint {checkpoint} is listed at {first} and again at {here}; deleted once"

    def _find_item(self, record: bytes) -> int:
        """The index of the single-backup task with this record (a scan: used for warnings only)."""
        position = self.keys.find(record)
        while position % _RECORD or self.whole[position // _RECORD]:
            if position < 0:
                raise AssertionError("a seen record is missing from the plan")
            position = self.keys.find(record, position + 1)
        return position // _RECORD

    def _drop_covered_items(self) -> None:
        """Drop the single-backup tasks listed before the whole-record entry of their checkpoint."""
        dropped: list[int] = []
        keys, whole_at = self.keys, self._whole_at
        for index, is_whole in enumerate(self.whole):
            if is_whole:
                continue
            checkpoint = bytes(keys[index * _RECORD : index * _RECORD + _ID_BYTES])
            whole = whole_at.get(checkpoint)
            if whole is not None:
                item = bytes(keys[index * _RECORD + _ID_BYTES : (index + 1) * _RECORD])
                self._merged(partial(_covered_message, checkpoint, item, self._place(index), self._place(whole)))
                dropped.append(index)
        if dropped:
            self._compact(dropped)

    def _compact(self, dropped: list[int]) -> None:
        """Remove the tasks at the given (ascending) indexes, keeping the source boundaries right."""
        keys, whole, lines = bytearray(), bytearray(), array("I")
        begin = 0
        for end in [*dropped, len(self.whole)]:
            keys += self.keys[begin * _RECORD : end * _RECORD]
            whole += self.whole[begin:end]
            lines.extend(self.lines[begin:end])
            begin = end + 1
        self.starts = [start - bisect.bisect_left(dropped, start) for start in self.starts]
        self.keys, self.whole, self.lines = keys, whole, lines

    def _place(self, index: int) -> str:
        source = self.sources[bisect.bisect_right(self.starts, index) - 1]
        return f"{source}:{self.lines[index]}"

    # -- entries (YAML and JSON Lines)

    def _json_entry(self, entry: object, line: int) -> None:
        if not isinstance(entry, dict):
            raise self._error(line, f"an entry must be a JSON object, found {_describe(entry)}")
        if "project_id" in entry:
            raise self._error(line, "project_id is only read from a YAML plan, not from a JSON Lines entry")
        for key in entry:
            if key not in ENTRY_KEYS:
                raise self._error(line, _unknown_key(key, ENTRY_KEYS, "entry"))
        if "checkpoint_id" not in entry:
            raise self._error(line, "the entry has no checkpoint_id")
        checkpoint = self._id(self._json_text(entry["checkpoint_id"], "checkpoint_id", line), line)
        if "checkpoint_items" not in entry:
            self.add_whole(checkpoint, line)
            return
        items = entry["checkpoint_items"]
        if not isinstance(items, list) or not items:
            raise self._error(line, _items_problem(_describe(items), empty=items == [] or items is None))
        owner = _format_uuid(checkpoint)
        for item in items:
            text = self._json_text(item, f"an item id of checkpoint {owner}", line)
            self.add_item(checkpoint, self._id(text, line, owner), line)

    def _json_text(self, value: object, what: str, line: int) -> str:
        if not isinstance(value, str):
            raise self._error(line, f"{what} must be a string, found {_describe(value)}")
        return value

    def _yaml_entries(self, root: yaml.Node) -> list[yaml.Node]:
        """The entry nodes: the root list, or the ``deletions`` of the root mapping (checked)."""
        if isinstance(root, yaml.SequenceNode):
            return list(root.value)
        if not isinstance(root, yaml.MappingNode):
            raise self._error(
                _line(root),
                "a YAML plan must be a mapping with 'deletions' (and optional 'project_id') "
                f"or a list of entries; found {_describe_node(root)}",
            )
        fields = self._yaml_mapping(root, PLAN_KEYS, "plan")
        if "project_id" in fields:
            self._check_project(fields["project_id"])
        deletions = fields.get("deletions")
        if deletions is None:
            raise self._error(_line(root), "the plan has no 'deletions' list")
        if _is_null(deletions):
            return []  # `deletions:` with nothing under it: an empty plan
        if not isinstance(deletions, yaml.SequenceNode):
            raise self._error(_line(deletions), f"'deletions' must be a list, found {_describe_node(deletions)}")
        return list(deletions.value)

    def _yaml_entry(self, node: yaml.Node) -> None:
        line = _line(node)
        if not isinstance(node, yaml.MappingNode):
            raise self._error(
                line,
                f"an entry must be a mapping with checkpoint_id (and optional checkpoint_items), "
                f"found {_describe_node(node)}",
            )
        fields = self._yaml_mapping(node, ENTRY_KEYS, "entry")
        checkpoint_node = fields.get("checkpoint_id")
        if checkpoint_node is None:
            raise self._error(line, "the entry has no checkpoint_id")
        checkpoint = self._yaml_id(checkpoint_node)
        items = fields.get("checkpoint_items")
        if items is None:
            self.add_whole(checkpoint, line)
            return
        if not isinstance(items, yaml.SequenceNode) or not items.value:
            empty = _is_null(items) or isinstance(items, yaml.SequenceNode)
            raise self._error(_line(items), _items_problem(_describe_node(items), empty=empty))
        owner = _format_uuid(checkpoint)
        for item in items.value:
            self.add_item(checkpoint, self._yaml_id(item, owner), _line(item))

    def _yaml_mapping(self, node: yaml.MappingNode, allowed: tuple[str, ...], what: str) -> dict[str, yaml.Node]:
        """The values of a mapping by key, refusing odd, unknown and repeated keys."""
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            line = _line(key_node)
            if not isinstance(key_node, yaml.ScalarNode) or _is_null(key_node):
                raise self._error(line, f"a key must be a name, found {_describe_node(key_node)}")
            key = str(key_node.value)
            if key not in allowed:
                hint = " (entries go in a 'deletions' list)" if key in ENTRY_KEYS and what == "plan" else ""
                raise self._error(line, _unknown_key(key, allowed, what) + hint)
            if key in fields:
                raise self._error(line, f"key {key!r} is given twice in this {what}")
            fields[key] = value_node
        return fields

    def _yaml_id(self, node: yaml.Node, checkpoint: str | None = None) -> bytes:
        """The id in a YAML scalar: a checkpoint id, or an item id of the given checkpoint."""
        if not isinstance(node, yaml.ScalarNode) or _is_null(node):
            what = "checkpoint_id" if checkpoint is None else f"an item id of checkpoint {checkpoint}"
            raise self._error(_line(node), f"{what} must be a string, found {_describe_node(node)}")
        return self._id(str(node.value), _line(node), checkpoint)

    def _check_project(self, node: yaml.Node) -> None:
        """A plan's project_id must be the configured one, and agree with every other source's."""
        line = _line(node)
        if not isinstance(node, yaml.ScalarNode) or _is_null(node) or not str(node.value).strip():
            raise self._error(line, f"project_id must be a project id, found {_describe_node(node)}")
        declared = str(node.value).strip()
        if self._project_id is not None and declared.lower() != self._project_id.lower():
            raise self._error(line, f"project_id {declared!r} differs from the configured project {self._project_id!r}")
        if self._declared is None:
            self._declared = (declared, f"{self.source}:{line}")
        elif declared.lower() != self._declared[0].lower():
            first, where = self._declared
            raise self._error(line, f"project_id {declared!r} differs from {first!r} declared at {where}")

    # -- checks and errors

    def _id(self, text: str, line: int, checkpoint: str | None = None) -> bytes:
        """The 16 bytes of a checkpoint id, or of an item id when its checkpoint is given."""
        if _UUID_RE.fullmatch(text) is None:
            raise self._bad_id(text, line, checkpoint)
        return binascii.unhexlify(text.replace("-", ""))

    def _bad_id(self, text: str, line: int, checkpoint: str | None = None) -> PlanError:
        what = "checkpoint id" if checkpoint is None else "item id"
        of = "" if checkpoint is None else f" of checkpoint {checkpoint}"
        return self._error(line, f"bad {what} {_show(text)}{of}: not a UUID (8-4-4-4-12 hex digits)")

    def _yaml_syntax_error(self, error: yaml.MarkedYAMLError) -> PlanError:
        mark = error.problem_mark or error.context_mark
        message = f"not valid YAML: {error.problem or error.context}"
        if error.problem and error.context and error.context_mark is not None:
            message += f" ({error.context} at line {error.context_mark.line + 1})"
        return PlanError(self.source, mark.line + 1 if mark is not None else None, message)

    def _error(self, line: int | None, message: str) -> PlanError:
        return PlanError(self.source, line, message)


# --- small helpers -----------------------------------------------------------------------------------------


class _DuplicateKeyError(Exception):
    """A JSON object repeats a key (json.loads would silently keep the last)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return result


def _format_uuid(raw: bytes | bytearray) -> str:
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _covered_message(checkpoint: bytes, item: bytes, item_place: str, whole_place: str) -> str:
    return (
        f"item {_format_uuid(item)} of checkpoint {_format_uuid(checkpoint)} at {item_place} is covered by "
        f"the whole-record entry at {whole_place}; only the whole record is deleted"
    )


def _unknown_key(key: str, allowed: tuple[str, ...], what: str) -> str:
    return f"unknown key {_show(key)} in this {what} (known keys: {', '.join(allowed)})"


def _items_problem(found: str, *, empty: bool) -> str:
    if empty:
        return (
            "checkpoint_items is empty: list at least one item id, "
            "or leave checkpoint_items out to delete the whole record"
        )
    return f"checkpoint_items must be a list of item ids, found {found}"


def _show(text: str) -> str:
    """A value quoted for a message, cut short when long."""
    if len(text) > _SHOWN_CHARS:
        return repr(text[:_SHOWN_CHARS]) + "..."
    return repr(text)


def _describe(value: object) -> str:
    """What a JSON value is, for a message: ``a number 12``, ``a list``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"a number {value}"
    if isinstance(value, str):
        return f"a string {_show(value)}"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return "an object"


_YAML_TAG_WORDS: Final = {
    "tag:yaml.org,2002:str": "a string",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:timestamp": "a date",
}


def _describe_node(node: yaml.Node) -> str:
    """What a YAML node is, for a message: ``a string 'abc'``, ``a list``, ``nothing (null)``."""
    if isinstance(node, yaml.SequenceNode):
        return "an empty list" if not node.value else "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if _is_null(node):
        return "nothing (null)"
    words = _YAML_TAG_WORDS.get(node.tag, "a value")
    value = str(node.value)
    return f"{words} {_show(value)}" if words == "a string" else f"{words} {value[:_SHOWN_CHARS]}"


def _is_null(node: yaml.Node) -> bool:
    return node.tag == "tag:yaml.org,2002:null"


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1
