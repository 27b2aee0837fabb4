"""The fleet file read into its users and targets, every value checked at its line.

Read with ``worker.yamlsource``, as the config file, plans and policies are: a key given twice, a control
character or deep nesting is refused at its line. The tree is walked node by node so that each error names
``file:line`` and the user or target it is about. This module checks the file alone; the plans, policies
and sign-ins it points at are ``worker.fleet.inputs`` and ``worker.fleet.credentials``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Final

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from worker.errors import SettingsError
from worker.fleet.levels import (
    DEFAULTS_KEYS,
    INPUTS,
    TARGET_KEYS,
    TOP_KEYS,
    USER_KEYS,
    Level,
    check_allowed,
    parse_value,
)
from worker.yamlsource import YamlSourceError, compose, construct, line_of, quote, read_file

# Names appear in logs, the report, metric labels and on the command line (--user): kept plain.
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_PREFIX: Final = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*)?")  # what may start an environment variable's name


@dataclass(frozen=True)
class Input:
    """A target's plan or policy: ``kind`` is ``plan`` or ``policy``, ``path`` resolved from the file's folder."""

    kind: str
    path: str
    line: int


@dataclass(frozen=True)
class TargetEntry:
    """One target as the file writes it: its own level of settings and its input."""

    name: str
    line: int
    values: Level
    input: Input


@dataclass(frozen=True)
class UserEntry:
    """One user as the file writes it: ``index`` is its place in ``users`` (the shard index)."""

    name: str
    line: int
    index: int
    env_prefix: str
    values: Level
    targets: tuple[TargetEntry, ...]


@dataclass(frozen=True)
class FleetFile:
    """The whole file, checked on its own (names unique, every key where it belongs, every value valid)."""

    path: str
    defaults: Level
    users: tuple[UserEntry, ...]

    def at(self, line: int) -> str:
        """``file:line``, the start of every message about the file."""
        return f"{self.path}:{line}"


def read_fleet_file(path: str) -> FleetFile:
    """Read and check the fleet file; any fault is a SettingsError naming ``file:line`` (and the target)."""
    try:
        root = compose(read_file(path, "the fleet file"), path)
        fleet = _Reader(path).fleet(root)
    except YamlSourceError as error:
        raise SettingsError(str(error)) from None
    _check_unique_names(fleet)
    return fleet


Fields = dict[str, tuple[Node, Node]]  # key -> (key node, value node)


class _Reader:
    """Walks the node tree of one fleet file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.folder = os.path.dirname(path)

    def at(self, node: Node) -> str:
        return f"{self.path}:{line_of(node)}"

    def fleet(self, root: Node | None) -> FleetFile:
        if root is None:
            raise SettingsError(f"{self.path}:1: the fleet file is empty: it needs users, each with targets")
        fields = self.fields(root, TOP_KEYS, "the fleet file")
        self.check_keys(fields, TOP_KEYS, "the fleet file")
        defaults = self.defaults(fields["defaults"][1]) if "defaults" in fields else {}
        if "users" not in fields:
            raise SettingsError(f"{self.at(root)}: no users: the fleet file lists its users under users:")
        users = self.sequence(fields["users"][1], "users", "user")
        return FleetFile(self.path, defaults, tuple(self.user(node, index) for index, node in enumerate(users)))

    def user(self, node: Node, index: int) -> UserEntry:
        fields = self.fields(node, USER_KEYS, f"user {index}")
        name = self.name(fields, node, f"user {index}")
        what = f"user {name}"
        self.check_keys(fields, USER_KEYS, what)
        prefix = self.text(fields["env_prefix"][1], what) if "env_prefix" in fields else None
        if prefix is None:
            raise SettingsError(f"{self.at(node)}: {what}: no env_prefix: give the start of its sign-in "
                                'variables (ACCT_A_ for ACCT_A_HUAWEICLOUD_SDK_AK, ...; "" for the usual ones)')
        if not _PREFIX.fullmatch(prefix):
            raise SettingsError(f"{self.at(fields['env_prefix'][1])}: {what}: env_prefix {quote(prefix)} cannot "
                                "start an environment variable's name: use letters, digits and _")
        if "targets" not in fields:
            raise SettingsError(f"{self.at(node)}: {what}: no targets: list them under targets:")
        targets = self.sequence(fields["targets"][1], f"{what}: targets", "target")
        return UserEntry(name, line_of(node), index, prefix, self.level(fields, what),
                         tuple(self.target(target) for target in targets))

    def target(self, node: Node) -> TargetEntry:
        fields = self.fields(node, TARGET_KEYS, "a target")
        name = self.name(fields, node, "a target")
        what = f"target {name}"
        self.check_keys(fields, TARGET_KEYS, what)
        given = [kind for kind in INPUTS if kind in fields]
        if len(given) != 1:
            problem = "both plan: and policy:" if given else "neither plan: nor policy:"
            raise SettingsError(f"{self.at(node)}: {what}: {problem}; give exactly one (what it deletes)")
        kind, value_node = given[0], fields[given[0]][1]
        path = self.text(value_node, what)
        if not path or path == "-":
            raise SettingsError(f"{self.at(value_node)}: {what}: {kind} must name a file")
        place = Input(kind, os.path.normpath(os.path.join(self.folder, path)), line_of(value_node))
        return TargetEntry(name, line_of(node), self.level(fields, what), place)

    def defaults(self, node: Node) -> Level:
        fields = self.fields(node, DEFAULTS_KEYS, "defaults")
        self.check_keys(fields, DEFAULTS_KEYS, "defaults")
        return self.level(fields, "defaults")

    def level(self, fields: Fields, what: str) -> Level:
        """The settings of one level, each parsed by its row of the settings table (empty ones left out)."""
        values: Level = {}
        for key, (_, value_node) in fields.items():
            if key in ("name", "env_prefix", "targets", *INPUTS):
                continue
            text = self.text(value_node, what)
            if text is not None:
                where = self.at(value_node)
                values[key] = (parse_value(key, text, f"{where}: {what}"), where)
        return values

    def fields(self, node: Node, allowed: tuple[str, ...], what: str) -> Fields:
        """The key and value nodes of a mapping by key (``check_keys`` checks them, once the name is known)."""
        if not isinstance(node, MappingNode):
            raise SettingsError(f"{self.at(node)}: {what} must be a mapping of keys ({', '.join(allowed)})")
        fields: Fields = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise SettingsError(f"{self.at(key_node)}: {what}: a key must be a name, not a list or mapping")
            fields[str(key_node.value)] = (key_node, value_node)
        return fields

    def check_keys(self, fields: Fields, allowed: tuple[str, ...], what: str) -> None:
        for key, (key_node, _) in fields.items():
            check_allowed(key, allowed, what, self.at(key_node))

    def sequence(self, node: Node, what: str, one: str) -> list[Node]:
        if not isinstance(node, SequenceNode) or not node.value:
            raise SettingsError(f"{self.at(node)}: {what} must be a list of at least one {one}")
        return list(node.value)

    def name(self, fields: Fields, node: Node, what: str) -> str:
        name = self.text(fields["name"][1], what) if "name" in fields else None
        if name is None:
            raise SettingsError(f"{self.at(node)}: {what} has no name: give it one (name:)")
        if not _NAME.fullmatch(name):
            raise SettingsError(f"{self.at(fields['name'][1])}: {what}: name {quote(name)} must be 1 to 63 "
                                "letters, digits, '.', '_' or '-', starting with a letter or digit")
        return name

    def text(self, node: Node, what: str) -> str | None:
        """A value as written (``yes`` stays ``yes``); None when empty (``key:`` or ``key: null``)."""
        if not isinstance(node, ScalarNode):
            raise SettingsError(f"{self.at(node)}: {what}: expected a single value here, not a list or mapping")
        return None if construct(node, self.path) is None else str(node.value)


def _check_unique_names(fleet: FleetFile) -> None:
    """User names, target names and env prefixes each name one thing in the whole file."""
    _check_unique(fleet, [(user.name, user.line) for user in fleet.users], "user name")
    _check_unique(fleet, [(target.name, target.line) for user in fleet.users for target in user.targets],
                  "target name")
    # Two users behind one prefix are one IAM user with two pools: ten tasks against the provider's five.
    _check_unique(fleet, [(repr(user.env_prefix), user.line) for user in fleet.users], "env_prefix")


def _check_unique(fleet: FleetFile, named: list[tuple[str, int]], what: str) -> None:
    first: dict[str, int] = {}
    for name, line in named:
        if name in first:
            raise SettingsError(f"{fleet.at(line)}: {what} {name} is used twice (first at line {first[name]}); "
                                "each must be unique in the fleet file")
        first[name] = line
