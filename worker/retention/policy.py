"""A retention policy file: which CSBS or CBR backups a policy governs and which it keeps, parsed and checked.

``select`` narrows what the policy governs: ``resource_ids`` (the backed-up servers), ``name_prefix`` (the
backup's name), and for CBR ``vault_ids`` (UUIDs, any case) and ``vault_names`` (exact names): a CBR backup
is selected when its vault is one of them. Vault names are how CSBS backups migrated into CBR are found:
each old CSBS policy became a vault of its name, the rest went to ``default``. A CSBS backup has no vault,
so a policy with a vault condition selects no CSBS backup (``Selection.uses_vaults`` tells a planner).

The file is YAML (see ``config/policy.example.yaml``), read with ``worker.yamlsource``, the loader the
plan and the config file use too. Parsing walks the composed node tree rather than the loaded data so that
every error names the file and the line it is about, and a duplicate or unknown key is refused instead of
silently winning or being ignored. Pure: no I/O beyond reading the file in ``load_policy``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from worker.errors import PolicyError
from worker.yamlsource import YamlSourceError, compose, construct, quote, read_file

GroupBy = Literal["resource_id", "resource_name", "none"]
"""How backups form histories: one per server id (default), one per server name, or one for all."""

PERIODS: Final = ("hourly", "daily", "weekly", "monthly", "yearly")
"""The period rules, in the order their reasons are listed."""

# Fixed-length units: a day is exactly 24 hours, even across a daylight-saving change.
_FIXED_UNITS: Final = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_MONTHS_PER_UNIT: Final = {"m": 1, "y": 12}
_DURATION = re.compile(r"([0-9]+)([hdwmy])")
_EARLIEST: Final = datetime.min.replace(tzinfo=UTC)
UTC_ZONE: Final = ZoneInfo("UTC")

_TOP_KEYS: Final = ("timezone", "group_by", "select", "keep", "min_keep", "max_deletions", "max_deletions_percent")
_SELECT_KEYS: Final = ("resource_ids", "name_prefix", "vault_ids", "vault_names")
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KEEP_KEYS: Final = ("last", *PERIODS, "within", "tags")
_TAG_KEYS: Final = ("key", "value")

T = TypeVar("T")


@dataclass(frozen=True)
class Duration:
    """A ``within`` span: ``h``, ``d``, ``w`` are fixed lengths; ``m``, ``y`` count calendar months.

    Calendar months are counted on the local calendar of the policy's zone, keeping the wall time and
    clamping the day to the end of a shorter month: 2m before May 31 is Mar 31, 2m before Apr 30 is
    Feb 28 (Feb 29 in a leap year), 1y before Feb 29 is Feb 28. A wall time that falls into a
    daylight-saving gap or overlap is resolved as zoneinfo does with ``fold=0``.
    """

    amount: int
    unit: Literal["h", "d", "w", "m", "y"]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def start(self, newest: datetime, zone: ZoneInfo) -> datetime:
        """The earliest instant (UTC) still inside the span that ends at ``newest`` (aware)."""
        try:
            if self.unit in _FIXED_UNITS:
                return newest.astimezone(UTC) - _FIXED_UNITS[self.unit] * self.amount
            months = self.amount * _MONTHS_PER_UNIT[self.unit]
            return _months_before(newest.astimezone(zone), months).astimezone(UTC)
        except (OverflowError, ValueError):  # reaches before year 1: the span covers everything
            return _EARLIEST


def _months_before(local: datetime, months: int) -> datetime:
    """The same wall time ``months`` calendar months earlier, the day clamped to the month's end."""
    year, month_index = divmod(local.year * 12 + local.month - 1 - months, 12)
    last_day = calendar.monthrange(year, month_index + 1)[1]  # ValueError before year 1
    return local.replace(year=year, month=month_index + 1, day=min(local.day, last_day), fold=0)


@dataclass(frozen=True)
class Tag:
    """A key/value pair that keeps every backup carrying it."""

    key: str
    value: str

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


@dataclass(frozen=True)
class Selection:
    """Which backups the policy governs; every given condition must hold (None = no condition).

    ``vault_ids`` (lower case) and ``vault_names`` apply to CBR backups, which the CBR planner gives a
    ``vault_id`` and a ``vault_name``; an item without them (a CSBS backup) matches neither.
    """

    resource_ids: frozenset[str] | None = None
    name_prefix: str | None = None
    vault_ids: frozenset[str] | None = None
    vault_names: frozenset[str] | None = None

    @property
    def uses_vaults(self) -> bool:
        """Whether a condition names vaults (so only CBR backups can match)."""
        return self.vault_ids is not None or self.vault_names is not None

    def matches(self, item: Mapping[str, Any]) -> bool:
        """Whether a backup (a CSBS checkpoint_item, or a CBR backup with its vault_name) falls under the policy."""
        if self.resource_ids is not None and item.get("resource_id") not in self.resource_ids:
            return False
        if self.vault_ids is not None:
            vault_id = item.get("vault_id")
            if not isinstance(vault_id, str) or vault_id.lower() not in self.vault_ids:
                return False
        if self.vault_names is not None and item.get("vault_name") not in self.vault_names:
            return False
        if self.name_prefix is not None:
            name = item.get("name")
            return isinstance(name, str) and name.startswith(self.name_prefix)
        return True


@dataclass(frozen=True)
class KeepRules:
    """The keep rules; each is independent and a backup kept by several counts for each (restic style)."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: Duration | None = None
    tags: tuple[Tag, ...] = ()

    def periods(self) -> tuple[tuple[str, int], ...]:
        """The period rules with their counts, in ``PERIODS`` order."""
        counts = (self.hourly, self.daily, self.weekly, self.monthly, self.yearly)
        return tuple(zip(PERIODS, counts, strict=True))

    @property
    def is_empty(self) -> bool:
        """True when no rule keeps anything: such a policy would delete every backup."""
        counted = self.last or any(count for _, count in self.periods())
        return not counted and self.within is None and not self.tags


@dataclass(frozen=True)
class Policy:
    """A checked retention policy; the defaults are those of a file that leaves a key out."""

    keep: KeepRules
    timezone: ZoneInfo = UTC_ZONE  #: zone of period boundaries and of calendar months in ``within``
    group_by: GroupBy = "resource_id"
    select: Selection = Selection()
    min_keep: int = 1  #: the newest this many available backups of each group are always kept
    max_deletions: int | None = None  #: refuse a plan deleting more than this; None: no limit
    #: refuse a plan deleting more than this share (in percent, above 0 and at most 100) of the governed
    #: backups, counted over all histories together; None: no limit
    max_deletions_percent: float | None = None
    source: str = "<policy>"  #: the file, named in later error messages


def load_policy(path: str) -> Policy:
    """Read and check a policy file; PolicyError says ``path:line: what is wrong``."""
    try:
        text = read_file(path, "the policy")
    except YamlSourceError as error:
        raise PolicyError(str(error)) from None
    return parse_policy(text, path)


def parse_policy(text: str, source: str) -> Policy:
    """Check a policy given as YAML text; ``source`` names it in error messages."""
    root = _compose(text, source)
    fields = _fields(root, source, _TOP_KEYS, "the policy")
    if "keep" not in fields:
        raise _error(source, root, "no 'keep' rules: a policy without them would delete every backup")
    keep = _keep(fields["keep"], source)
    return Policy(
        keep=keep,
        timezone=_optional(fields, "timezone", lambda node: _timezone(node, source), UTC_ZONE),
        group_by=_optional(fields, "group_by", lambda node: _group_by(node, source), "resource_id"),
        select=_optional(fields, "select", lambda node: _selection(node, source), Selection()),
        min_keep=_optional(fields, "min_keep", lambda node: _count(node, source, "min_keep"), 1),
        max_deletions=_optional(fields, "max_deletions", lambda node: _limit(node, source), None),
        max_deletions_percent=_optional(fields, "max_deletions_percent", lambda node: _percent(node, source), None),
        source=source,
    )


def _optional(fields: Mapping[str, Node], key: str, convert: Callable[[Node], T], default: T) -> T:
    return convert(fields[key]) if key in fields else default


def _error(source: str, node: Node, message: str) -> PolicyError:
    return PolicyError(f"{source}:{node.start_mark.line + 1}: {message}")


def _compose(text: str, source: str) -> MappingNode:
    try:
        root = compose(text, source)
    except YamlSourceError as error:
        raise PolicyError(str(error)) from None
    if root is None:
        raise PolicyError(f"{source}:1: the policy is empty")
    if not isinstance(root, MappingNode):
        raise _error(source, root, "the policy must be a mapping of settings")
    return root


def _fields(node: Node, source: str, allowed: tuple[str, ...], where: str) -> dict[str, Node]:
    """The value nodes of a mapping by key, refusing unknown keys (the loader refuses repeated ones)."""
    if not isinstance(node, MappingNode):
        raise _error(source, node, f"{where} must be a mapping with keys {', '.join(allowed)}")
    fields: dict[str, Node] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node, source)
        if key not in allowed:
            expected = ", ".join(allowed)
            raise _error(source, key_node, f"unknown key {quote(str(key))} in {where} (expected one of: {expected})")
        fields[key] = value_node
    return fields


def _scalar(node: Node, source: str) -> Any:
    """The typed value of a scalar node (str, int, bool, None, ...), as YAML's safe loader reads it."""
    if not isinstance(node, ScalarNode):
        raise _error(source, node, "expected a single value here, not a list or mapping")
    try:
        return construct(node, source)
    except YamlSourceError as error:
        raise PolicyError(str(error)) from None


def _shown(node: Node) -> str:
    """The value as written in the file: ``yes`` rather than the ``True`` YAML makes of it."""
    return quote(str(node.value)) if isinstance(node, ScalarNode) else "a list or mapping"


def _count(node: Node, source: str, name: str) -> int:
    value = _scalar(node, source)
    if type(value) is not int or value < 0:
        raise _error(source, node, f"{name} must be a whole number >= 0, not {_shown(node)}")
    return value


def _limit(node: Node, source: str) -> int:
    value = _scalar(node, source)
    if type(value) is not int or value < 1:
        raise _error(source, node, f"max_deletions must be a whole number >= 1, not {_shown(node)}")
    return value


def _percent(node: Node, source: str) -> float:
    value = _scalar(node, source)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
        hint = "a share of the governed backups in percent, above 0 and at most 100, such as 20 or 12.5"
        raise _error(source, node, f"max_deletions_percent must be {hint}; not {_shown(node)}")
    return float(value)


def _string(node: Node, source: str, name: str) -> str:
    value = _scalar(node, source)
    if not isinstance(value, str):
        raise _error(source, node, f"{name} must be a string, not {_shown(node)} (quote it)")
    return value


def _timezone(node: Node, source: str) -> ZoneInfo:
    name = _string(node, source, "timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        hint = "use an IANA name such as Europe/Berlin"
        raise _error(source, node, f"unknown time zone {quote(name)} ({hint})") from None


def _group_by(node: Node, source: str) -> GroupBy:
    value = _string(node, source, "group_by")
    for choice in get_args(GroupBy):
        if value == choice:
            return choice  # type: ignore[no-any-return]
    raise _error(source, node, f"group_by must be one of {', '.join(get_args(GroupBy))}, not {quote(value)}")


def _selection(node: Node, source: str) -> Selection:
    fields = _fields(node, source, _SELECT_KEYS, "select")
    resource_ids = None
    if "resource_ids" in fields:
        resource_ids = frozenset(_string_list(fields["resource_ids"], source, "select.resource_ids"))
    name_prefix = None
    if "name_prefix" in fields:
        name_prefix = _string(fields["name_prefix"], source, "select.name_prefix")
    vault_ids = None
    if "vault_ids" in fields:
        vault_ids = frozenset(
            _vault_id(child, source) for child in _sequence(fields["vault_ids"], source, "select.vault_ids")
        )
    vault_names = None
    if "vault_names" in fields:
        vault_names = frozenset(_string_list(fields["vault_names"], source, "select.vault_names"))
    return Selection(resource_ids=resource_ids, name_prefix=name_prefix, vault_ids=vault_ids, vault_names=vault_names)


def _vault_id(node: Node, source: str) -> str:
    value = _string(node, source, "a vault id")
    if _UUID.fullmatch(value.strip()) is None:
        raise _error(
            source, node, f"select.vault_ids: {quote(value)} is not a vault id (a UUID, 8-4-4-4-12 hex digits)"
        )
    return value.strip().lower()


def _sequence(node: Node, source: str, name: str) -> list[Node]:
    if not isinstance(node, SequenceNode):
        raise _error(source, node, f"{name} must be a list of strings")
    if not node.value:
        raise _error(source, node, f"{name} is empty and would select nothing; leave it out to select all")
    return list(node.value)


def _string_list(node: Node, source: str, name: str) -> list[str]:
    return [_string(child, source, name) for child in _sequence(node, source, name)]


def _keep(node: Node, source: str) -> KeepRules:
    fields = _fields(node, source, _KEEP_KEYS, "keep")
    counts = {key: _count(fields[key], source, f"keep.{key}") for key in ("last", *PERIODS) if key in fields}
    within = _duration(fields["within"], source) if "within" in fields else None
    tags = _tags(fields["tags"], source) if "tags" in fields else ()
    rules = KeepRules(**counts, within=within, tags=tags)
    if rules.is_empty:
        raise _error(source, node, "every keep rule is zero or absent: the policy would delete every backup")
    return rules


def _duration(node: Node, source: str) -> Duration:
    value = _scalar(node, source)
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) < 1:
        hint = "a positive whole number and a unit h, d, w, m (months) or y, such as 36h, 7d, 6m"
        raise _error(source, node, f"keep.within must be {hint}; not {_shown(node)}")
    return Duration(int(match.group(1)), match.group(2))  # type: ignore[arg-type]


def _tags(node: Node, source: str) -> tuple[Tag, ...]:
    if not isinstance(node, SequenceNode):
        raise _error(source, node, "keep.tags must be a list of {key: ..., value: ...} mappings")
    tags = []
    for child in node.value:
        fields = _fields(child, source, _TAG_KEYS, "a keep.tags entry")
        missing = [key for key in _TAG_KEYS if key not in fields]
        if missing:
            raise _error(source, child, f"a keep.tags entry needs {' and '.join(missing)}")
        key = _string(fields["key"], source, "a tag key")
        value = _string(fields["value"], source, "a tag value")
        tags.append(Tag(key, value))
    return tuple(tags)
