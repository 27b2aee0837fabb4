"""What every face's scenario shares: the credentials, the fault rule's fields, and the reading of a file.

A face's scenario is a frozen dataclass that extends ``BaseScenario`` with its own switches and says, as
class data, how its YAML values become field values (``ID_SETS``, ``TEXTS``, ...). ``from_yaml`` then
reads a file (each face's ``config/scenario*.example.yaml`` documents its keys) and rejects unknown keys
with a message that names the file and the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml

_PROJECT_SETS = frozenset({"projects", "forbidden_projects"})  # every face's id sets (``BaseScenario``)


class ScenarioError(ValueError):
    """A scenario value or file is invalid; the message names the source and the key."""


@dataclass(frozen=True, slots=True)
class IamUser:
    """An IAM user that may sign in with ``POST /v3/auth/tokens`` (password method).

    Args:
        name: user name sent in ``auth.identity.password.user.name``.
        password: the password; never shown in ``repr``.
        domain: account (domain) name the user belongs to.
        user_id: id the deletion queue is kept under; defaults to ``name``.
    """

    name: str
    password: str = field(repr=False)
    domain: str
    user_id: str | None = None

    @property
    def queue_user(self) -> str:
        """The user the per-user task limit counts this sign-in against."""
        return self.user_id or self.name


@dataclass(frozen=True, slots=True)
class AccessKey:
    """An AK/SK pair accepted with ``SDK-HMAC-SHA256`` signing.

    Args:
        ak: access key id, sent in the ``Authorization`` header.
        sk: secret key; never shown in ``repr``.
        user: the user the deletion queue is kept under.
        security_token: set for temporary credentials; requests must then send it as ``X-Security-Token``.
    """

    ak: str
    sk: str = field(repr=False)
    user: str = "aksk-user"
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class BaseFaultRule:
    """One injected fault: which requests it hits and how the emulator misbehaves for them.

    A face's rule is a subclass that names its ``ROUTES`` (``*`` = every route) and ``KINDS``, and documents
    what each kind answers there.

    Args:
        route: the route name it hits (a face's route table), or ``*``.
        kind: how it misbehaves, e.g. ``429``, ``500``, ``drop``, ``slow``, ``applied-500``.
        rate: probability per matching request (seeded); None means every matching request.
        times: hit only the first ``times`` matching requests (after ``after``); None means no cap.
        after: let the first ``after`` matching requests through untouched.
        retry_after_s: the ``Retry-After`` value of ``429-retry-after`` (default 1 s).
        delay_s: wait this long before answering (any kind; the point of ``slow``).
    """

    ROUTES: ClassVar[frozenset[str]] = frozenset()
    KINDS: ClassVar[frozenset[str]] = frozenset()

    route: str
    kind: str
    rate: float | None = None
    times: int | None = None
    after: int = 0
    retry_after_s: float | None = None
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        """A rule names a known route and kind, a rate in 0..1, and no negative count or delay."""
        if self.route not in self.ROUTES:
            raise ScenarioError(f"fault route {self.route!r} is not one of {sorted(self.ROUTES)}")
        if self.kind not in self.KINDS:
            raise ScenarioError(f"fault kind {self.kind!r} is not one of {sorted(self.KINDS)}")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ScenarioError(f"fault rate {self.rate} is not between 0 and 1")
        if self.after < 0 or (self.times is not None and self.times < 0) or self.delay_s < 0:
            raise ScenarioError("fault after, times and delay_s must not be negative")


@dataclass(frozen=True, slots=True)
class BaseScenario:
    """The credentials every face accepts, and the reading of a face's scenario from data or a file.

    Args:
        project_id: the project that holds backups (the first one, when the emulator serves several).
        tokens: static tokens accepted as ``X-Auth-Token``, mapped to their user; they never expire, and
            cover every project the emulator knows (a real token covers one: see the password sign-in).
        users: IAM users that may sign in with a password.
        access_keys: AK/SK pairs that may sign requests.
        token_ttl_s: lifetime of tokens issued by ``POST /v3/auth/tokens``.
        sdk_date_skew_s: how far ``X-Sdk-Date`` may be from the emulator's time.
        ak_lock_failures: an AK is locked after more than this many consecutive signature failures.
        ak_lock_s: how long such a lock lasts.
        projects: further projects served beside ``project_id``, each with backups of its own, as a
            regional endpoint serves every project of the region (``served_projects``).
        forbidden_projects: projects a password sign-in may be scoped to but where every call answers the
            face's 403, as a project in which the user has no permission.
    """

    ID_SETS: ClassVar[frozenset[str]] = frozenset()  #: fields read as a set of ids (text)
    TEXTS: ClassVar[frozenset[str]] = frozenset({"project_id"})  #: fields YAML may read as a number
    OPTIONAL: ClassVar[Mapping[str, type[Any]]] = {}  #: fields holding one nested object, or None
    FAULT_RULE: ClassVar[type[BaseFaultRule]] = BaseFaultRule  #: the face's rule, for ``faults``

    project_id: str
    tokens: Mapping[str, str] = field(default_factory=dict, repr=False)
    users: tuple[IamUser, ...] = ()
    access_keys: tuple[AccessKey, ...] = ()
    token_ttl_s: float = 24 * 3600.0
    sdk_date_skew_s: float = 15 * 60.0
    ak_lock_failures: int = 5
    ak_lock_s: float = 5 * 60.0
    projects: frozenset[str] = frozenset()
    forbidden_projects: frozenset[str] = frozenset()

    @property
    def served_projects(self) -> frozenset[str]:
        """Every project with backups here: ``project_id`` and ``projects``."""
        return frozenset({self.project_id, *self.projects})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "scenario", **overrides: Any) -> Self:
        """Build a scenario from plain data (as read from YAML); ``overrides`` win over ``data``."""
        merged = {**data, **overrides}
        unknown = sorted(set(merged) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ScenarioError(f"{source}: unknown scenario key(s): {', '.join(unknown)}")
        if "project_id" not in merged:
            raise ScenarioError(f"{source}: project_id is required")
        try:
            return cls(**{key: cls._convert(key, value) for key, value in merged.items()})
        except (TypeError, ValueError) as exc:  # ScenarioError included: add where it comes from
            raise ScenarioError(f"{source}: {exc}") from exc

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> Self:
        """Read a scenario file; ``overrides`` (e.g. from command-line flags) win over its values."""
        return cls.from_mapping(read_scenario_file(path), source=str(path), **overrides)

    @classmethod
    def _convert(cls, key: str, value: Any) -> Any:
        """Turn one YAML value into the type the field holds (lists to sets or tuples, mappings to objects)."""
        if key in cls.ID_SETS or key in _PROJECT_SETS:
            return frozenset(str(v) for v in as_list(key, value))
        if key in cls.TEXTS:  # YAML reads 404 or an all-digit id as int
            return str(value)
        if key == "delete_duration_s":
            pair = as_list(key, value)
            if len(pair) != 2:
                raise ScenarioError(f"delete_duration_s must be [min, max], got {value!r}")
            return (float(pair[0]), float(pair[1]))
        if key == "tokens":
            if not isinstance(value, Mapping):
                raise ScenarioError("tokens must map each token to its user")
            return {str(token): str(user) for token, user in value.items()}
        if key in cls.OPTIONAL:
            return None if value is None else build_nested(cls.OPTIONAL[key], value, key)
        nested: dict[str, type[Any]] = {"users": IamUser, "access_keys": AccessKey, "faults": cls.FAULT_RULE}
        if key in nested:
            return tuple(build_nested(nested[key], fault_kind_as_text(item), key) for item in as_list(key, value))
        return value


def check_credentials(s: BaseScenario) -> None:
    """No negative lifetime, skew, lock time or failure count."""
    for name in ("token_ttl_s", "sdk_date_skew_s", "ak_lock_s"):
        if getattr(s, name) < 0:
            raise ScenarioError(f"{name} must not be negative")
    if s.ak_lock_failures < 0:
        raise ScenarioError("ak_lock_failures must not be negative")


def check_duration(duration_s: tuple[float, float]) -> None:
    """A (min, max) running time: 0 <= min <= max."""
    low, high = duration_s
    if not 0 <= low <= high:
        raise ScenarioError(f"delete_duration_s {duration_s} must be (min, max) with 0 <= min <= max")


def check_busy_first(n: object) -> None:
    """``busy_first_deletes``: a whole number, 0 or more."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ScenarioError(f"busy_first_deletes must be a whole number >= 0, got {n!r}")


def read_scenario_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a scenario YAML file (empty file: empty mapping); ScenarioError if unreadable."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario must be a mapping of keys to values")
    return data


def fault_kind_as_text(item: Any) -> Any:
    """YAML reads ``kind: 429`` as a number; the rule wants the text."""
    if isinstance(item, Mapping) and isinstance(item.get("kind"), int):
        return {**item, "kind": str(item["kind"])}
    return item


def as_list(key: str, value: Any) -> list[Any]:
    """A YAML sequence as a list; ScenarioError for anything else."""
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    raise ScenarioError(f"{key} must be a list, got {value!r}")


def build_nested(kind: type[Any], item: Any, where: str) -> Any:
    """Make one nested object, naming unknown keys instead of failing with a bare TypeError."""
    if isinstance(item, kind):
        return item
    if not isinstance(item, Mapping):
        raise ScenarioError(f"{where}: each entry must be a mapping, got {item!r}")
    unknown = sorted(set(item) - {f.name for f in dataclasses.fields(kind)})
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s): {', '.join(map(str, unknown))}")
    try:
        return kind(**item)
    except TypeError as exc:
        raise ScenarioError(f"{where}: {exc}") from exc
