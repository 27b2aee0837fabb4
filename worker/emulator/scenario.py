"""What the emulated cloud is like: credentials, task timing, the readings of the silent points, faults.

A ``Scenario`` is a frozen value; every field but ``project_id`` has a default, so a test names only what
it cares about. ``Scenario.from_yaml`` reads the same fields from a file (``config/scenario.example.yaml``
documents each key) and rejects unknown keys with a message that names the file and the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

from worker.emulator.errors import ERROR_SHAPES, ErrorShape

CSBS_PROVIDER_ID = "fc4d5750-22e7-4798-8a46-f48f62c4c1da"

GoneMode = Literal["404", "deleted"]
BusyMode = Literal["400", "409"]

FAULT_ROUTES = frozenset({"auth", "delete", "get_item", "list", "count", "*"})
FAULT_KINDS = frozenset({
    "401", "403", "429", "429-retry-after", "500", "503", "drop", "slow", "applied-500",
    "404-apigw", "404-apig", "404-html",
})
GATEWAY_404 = ("none", "apigw", "apig", "html")
PROGRESS_FORMATS = ("int", "float", "string")
VANISHED_MARKER = ("page", "404")


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
        """The user the five-task rule counts this sign-in against."""
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
class FaultRule:
    """One injected fault: which requests it hits and how the emulator misbehaves for them.

    Args:
        route: ``auth``, ``delete``, ``get_item``, ``list``, ``count`` or ``*`` (every route).
        kind: ``429`` (APIG.0308, no Retry-After), ``429-retry-after`` (with ``Retry-After``), ``500``
            (CSBS.9999), ``503``, ``drop`` (close the connection unanswered), ``slow`` (answer normally
            after ``delay_s``), ``applied-500`` (do the work, then answer 500 CSBS.9999), ``401`` (APIG.0301:
            credentials revoked mid-run), ``403`` (permission withdrawn mid-run), ``404-apigw`` / ``404-apig``
            / ``404-html`` (the gateway's 404 for an API it does not serve: APIGW.0101, APIG.0101 or an HTML
            page, e.g. after a good preflight).
        rate: probability per matching request (seeded); None means every matching request.
        times: hit only the first ``times`` matching requests (after ``after``); None means no cap.
        after: let the first ``after`` matching requests through untouched.
        retry_after_s: the ``Retry-After`` value of ``429-retry-after`` (default 1 s).
        delay_s: wait this long before answering (any kind; the point of ``slow``).
    """

    route: str
    kind: str
    rate: float | None = None
    times: int | None = None
    after: int = 0
    retry_after_s: float | None = None
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        check_fault_rule(self, FAULT_ROUTES, FAULT_KINDS)


class _RuleFields(Protocol):
    """What ``check_fault_rule`` reads of a fault rule (this module's or the CBR emulator's)."""

    @property
    def route(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def rate(self) -> float | None: ...

    @property
    def times(self) -> int | None: ...

    @property
    def after(self) -> int: ...

    @property
    def delay_s(self) -> float: ...


def check_fault_rule(rule: _RuleFields, routes: frozenset[str], kinds: frozenset[str]) -> None:
    """A fault rule names a known route and kind, a rate in 0..1, and no negative count or delay."""
    if rule.route not in routes:
        raise ScenarioError(f"fault route {rule.route!r} is not one of {sorted(routes)}")
    if rule.kind not in kinds:
        raise ScenarioError(f"fault kind {rule.kind!r} is not one of {sorted(kinds)}")
    if rule.rate is not None and not 0.0 <= rule.rate <= 1.0:
        raise ScenarioError(f"fault rate {rule.rate} is not between 0 and 1")
    if rule.after < 0 or (rule.times is not None and rule.times < 0) or rule.delay_s < 0:
        raise ScenarioError("fault after, times and delay_s must not be negative")


@dataclass(frozen=True, slots=True)
class OddStatus:
    """A status the API documents nowhere, shown by some backups while they are being deleted.

    Args:
        status: what GET and list show instead of ``waiting_delete`` / ``deleting`` (e.g. ``error-deleting``).
        items: backup ids that show it whenever a deletion holds them.
        rate: probability that any other deletion task shows it for its backups (seeded, per task).

    The task still ends as it would (gone, ``deleted``, ``error``); a stuck one shows the status forever.
    """

    status: str = "error-deleting"
    items: frozenset[str] = frozenset()
    rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ScenarioError(f"odd_status rate {self.rate} is not between 0 and 1")
        object.__setattr__(self, "items", frozenset(str(i) for i in self.items))


@dataclass(frozen=True, slots=True)
class Scenario:
    """How the emulated CSBS behaves. Units are in the names; ids are compared as given.

    Args:
        project_id: the one project that holds backups.
        provider_id: the provider id DELETE paths must carry (else 400 CSBS.9001).
        tokens: static tokens accepted as ``X-Auth-Token``, mapped to their user; they never expire.
        users: IAM users that may sign in with a password.
        access_keys: AK/SK pairs that may sign requests.
        token_ttl_s: lifetime of tokens issued by ``POST /v3/auth/tokens``.
        sdk_date_skew_s: how far ``X-Sdk-Date`` may be from the emulator's time.
        ak_lock_failures: an AK is locked after more than this many consecutive signature failures.
        ak_lock_s: how long such a lock lasts.
        tasks_per_user: deletion tasks that run at once per user; later ones wait (``waiting_delete``).
        delete_duration_s: (min, max) running time of one deletion task, drawn per task (seeded).
        gone_mode: what a finished deletion leaves: ``404`` (CSBS.3001) or ``deleted`` (the item lingers
            with status ``deleted`` for ``deleted_linger_s``, then 404).
        deleted_linger_s: see ``gone_mode``.
        busy_mode: the answer to a DELETE of something being deleted, backed up or restored:
            ``400`` (CSBS.2003) or ``409``.
        status_lag_s: for this long after a DELETE, GET and list still show the status from before it.
        fail_items: item ids whose deletion always ends in ``error``.
        fail_rate: probability that the deletion of any other item ends in ``error`` (seeded).
        stuck_items: item ids whose deletion task never ends (and keeps its slot).
        stuck_rate: probability that a deletion task gets stuck (seeded).
        image_items: item ids registered to an image: DELETE answers 400 CSBS.8007.
        disabled_projects: projects refused with 400 BackupService.4008 on every call.
        forbidden_tokens: tokens that authenticate but get 403 on every CSBS call.
        forbidden_users: users (queue user ids) that get 403 on every CSBS call.
        faults: fault rules, checked in order; the first that fires decides.
        gateway_404: a wrong endpoint: every route answers the gateway's 404, ``apigw`` (APIGW.0101),
            ``apig`` (APIG.0101) or ``html`` (an HTML page); ``none`` serves the API.
        error_shape: the body of every error answer: ``error_code``, ``error``, ``errorCode``, ``code`` or
            ``openstack`` (see ``worker.emulator.errors``).
        request_id_in_body: error answers carry ``request_id`` in the body, and no answer has an
            ``X-Request-Id`` header.
        progress_format: ``extend_info.progress`` as an ``int`` (42), a ``float`` (42.0) or a numeric
            ``string`` ("42").
        fail_code_numeric: ``extend_info.fail_code.Code`` as a number (2006) instead of text ("2006").
        odd_status: an undocumented status some backups show while being deleted (``OddStatus``).
        stale_failed_items: backup ids (planned or seeded) that start as left by an earlier failed deletion:
            ``error`` with ``fail_op`` delete and an old ``fail_reason``, ``updated_at``, ``finished_at``,
            ``taskid`` (see ``Emulator.add_item(stale_delete_failure=True)``).
        vanished_marker: a listing whose ``marker`` names a backup deleted since: ``page`` (the page after
            where it stood) or ``404`` (404 CSBS.3001, as OpenStack services answer; in the ``openstack``
            error shape that is ``{"itemNotFound": {"code": 404, ...}}``).
    """

    project_id: str
    provider_id: str = CSBS_PROVIDER_ID
    tokens: Mapping[str, str] = field(default_factory=dict, repr=False)
    users: tuple[IamUser, ...] = ()
    access_keys: tuple[AccessKey, ...] = ()
    token_ttl_s: float = 24 * 3600.0
    sdk_date_skew_s: float = 15 * 60.0
    ak_lock_failures: int = 5
    ak_lock_s: float = 5 * 60.0
    tasks_per_user: int = 5
    delete_duration_s: tuple[float, float] = (1.0, 5.0)
    gone_mode: GoneMode = "404"
    deleted_linger_s: float = 60.0
    busy_mode: BusyMode = "400"
    status_lag_s: float = 0.0
    fail_items: frozenset[str] = frozenset()
    fail_rate: float = 0.0
    stuck_items: frozenset[str] = frozenset()
    stuck_rate: float = 0.0
    image_items: frozenset[str] = frozenset()
    disabled_projects: frozenset[str] = frozenset()
    forbidden_tokens: frozenset[str] = field(default=frozenset(), repr=False)
    forbidden_users: frozenset[str] = frozenset()
    faults: tuple[FaultRule, ...] = ()
    gateway_404: str = "none"
    error_shape: ErrorShape = "error_code"
    request_id_in_body: bool = False
    progress_format: str = "int"
    fail_code_numeric: bool = False
    odd_status: OddStatus | None = None
    stale_failed_items: frozenset[str] = frozenset()
    vanished_marker: str = "page"

    def __post_init__(self) -> None:
        _check_scenario(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "scenario", **overrides: Any) -> Scenario:
        """Build a scenario from plain data (as read from YAML); ``overrides`` win over ``data``."""
        merged = {**data, **overrides}
        unknown = sorted(set(merged) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ScenarioError(f"{source}: unknown scenario key(s): {', '.join(unknown)}")
        if "project_id" not in merged:
            raise ScenarioError(f"{source}: project_id is required")
        try:
            return cls(**{key: _convert(key, value) for key, value in merged.items()})
        except (TypeError, ValueError) as exc:  # ScenarioError included: add where it comes from
            raise ScenarioError(f"{source}: {exc}") from exc

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> Scenario:
        """Read a scenario file; ``overrides`` (e.g. from command-line flags) win over its values."""
        return cls.from_mapping(read_scenario_file(path), source=str(path), **overrides)


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


def _check_scenario(s: Scenario) -> None:
    """Reject values that cannot describe a cloud (negative times, rates outside 0..1, bad modes)."""
    low, high = s.delete_duration_s
    if not 0 <= low <= high:
        raise ScenarioError(f"delete_duration_s {s.delete_duration_s} must be (min, max) with 0 <= min <= max")
    if s.gone_mode not in ("404", "deleted"):
        raise ScenarioError(f"gone_mode {s.gone_mode!r} must be '404' or 'deleted'")
    if s.busy_mode not in ("400", "409"):
        raise ScenarioError(f"busy_mode {s.busy_mode!r} must be '400' or '409'")
    for name in ("fail_rate", "stuck_rate"):
        if not 0.0 <= getattr(s, name) <= 1.0:
            raise ScenarioError(f"{name} must be between 0 and 1")
    for name in ("token_ttl_s", "sdk_date_skew_s", "ak_lock_s", "deleted_linger_s", "status_lag_s"):
        if getattr(s, name) < 0:
            raise ScenarioError(f"{name} must not be negative")
    for name, allowed in (("gateway_404", GATEWAY_404), ("error_shape", ERROR_SHAPES),
                          ("progress_format", PROGRESS_FORMATS), ("vanished_marker", VANISHED_MARKER)):
        if getattr(s, name) not in allowed:
            raise ScenarioError(f"{name} {getattr(s, name)!r} must be one of {', '.join(allowed)}")
    if s.tasks_per_user < 1 or s.ak_lock_failures < 0:
        raise ScenarioError("tasks_per_user must be at least 1 and ak_lock_failures not negative")


def _convert(key: str, value: Any) -> Any:
    """Turn one YAML value into the type the field holds (lists to tuples, nested mappings to objects)."""
    if key in ("fail_items", "stuck_items", "image_items", "disabled_projects", "forbidden_tokens",
               "forbidden_users", "stale_failed_items"):
        return frozenset(str(v) for v in as_list(key, value))
    # YAML reads 404 or an all-digit id as int
    if key in ("gone_mode", "busy_mode", "project_id", "provider_id", "vanished_marker"):
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
    if key == "users":
        return tuple(build_nested(IamUser, item, key) for item in as_list(key, value))
    if key == "access_keys":
        return tuple(build_nested(AccessKey, item, key) for item in as_list(key, value))
    if key == "odd_status":
        return None if value is None else build_nested(OddStatus, value, key)
    if key == "faults":
        return tuple(build_nested(FaultRule, fault_kind_as_text(item), key) for item in as_list(key, value))
    return value


def fault_kind_as_text(item: Any) -> Any:
    """YAML reads ``kind: 429`` as a number; the rule wants the text."""
    if isinstance(item, Mapping) and isinstance(item.get("kind"), int):
        return {**item, "kind": str(item["kind"])}
    return item


def as_list(key: str, value: Any) -> list[Any]:
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
