"""The run's settings: flag > environment > config file > default, one table for all of them.

Every setting has one row in ``SETTINGS``. Its long flag is ``--{key with - for _}``, its environment
variable ``CSBS_{KEY}``, its config-file key ``key``. Secrets are not in the table: they come only from
the environment (docs/design.md), see ``load_credentials``.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from yaml.nodes import MappingNode, ScalarNode

from worker.errors import SettingsError
from worker.provider import DEFAULT_PROVIDER_ID
from worker.services import registry
from worker.yamlsource import YamlSourceError, compose, construct, line_of, quote, read_file


class Secret:
    """A string that never shows itself in a repr, a log line or an error message."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class TokenCredentials:
    """A ready IAM token (``CSBS_AUTH_TOKEN``)."""

    token: Secret


@dataclass(frozen=True)
class AkSkCredentials:
    """An access key pair for SDK-HMAC-SHA256 signing, optionally temporary (with a security token)."""

    ak: Secret
    sk: Secret
    security_token: Secret | None


@dataclass(frozen=True)
class PasswordCredentials:
    """IAM password login; the token is fetched, cached and renewed by the client."""

    iam_endpoint: str
    username: str
    domain_name: str
    password: Secret


Credentials = TokenCredentials | AkSkCredentials | PasswordCredentials


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError("must be a number of seconds, 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a number above 0")
    return value


def _digest(text: str) -> str:
    """An approvable plan's digest (``--expect-digest``): 64 hex digits, optionally after ``sha256:``."""
    match = re.fullmatch(r"(?:sha256:)?([0-9a-fA-F]{64})", text.strip())
    if match is None:
        raise ValueError("must be a SHA-256 digest: 64 hex digits, as `csbs-worker plan --approvable` printed it")
    return match.group(1).lower()


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    return parse


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("must start with https:// (or http:// for a local emulator)")
    return text.rstrip("/")


def is_loopback(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: a host whose traffic never leaves the machine."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _api_url(text: str) -> str:
    """An API endpoint: tokens and signatures go there, so plain http only to loopback (the emulator)."""
    url = _url(text)
    if url.startswith("http://") and not is_loopback(urlsplit(url).hostname):
        raise ValueError("must start with https://: tokens and signatures never go over plain http to a "
                         "real host (http:// is only for a loopback host such as the emulator on 127.0.0.1)")
    return url


BOTH = frozenset({"delete", "plan"})
DELETE = frozenset({"delete"})
RUN = frozenset({"delete", "fleet"})  # per-run settings: a fleet takes them from flags, environment and --config
EVERY = frozenset({"delete", "plan", "fleet"})


@dataclass(frozen=True)
class SettingSpec:
    """One row of the settings table."""

    key: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    field: str = ""  # the Settings attribute, when it differs from key (units in names)
    commands: frozenset[str] = DELETE  # the commands that use it: the others neither list nor accept its flag
    choices: tuple[str, ...] = ()  # the values allowed, listed by --help
    value_name: str = ""  # what --help shows as the value, when the unit does not say it

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def env(self) -> str:
        return "CSBS_" + self.key.upper()

    @property
    def attribute(self) -> str:
        return self.field or self.key

    @property
    def metavar(self) -> str:
        """What ``--help`` shows as the value: its unit where it has one."""
        if self.value_name:
            return self.value_name
        if self.attribute.endswith("_s"):
            return "SECONDS"
        if self.parse in (_positive_int, _positive_float):
            return "N"
        return "URL" if self.parse in (_url, _api_url) else self.key.upper()

    @property
    def shown_default(self) -> str:
        """The default as --help prints it: ``1800``, not ``1800.0``; ``none`` for no default."""
        if self.default is None:
            return "none"
        if isinstance(self.default, float) and self.default.is_integer():
            return str(int(self.default))
        return str(self.default)


LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")

SERVICES = registry.NAMES

SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("service", _choice(*SERVICES), registry.DEFAULT, "the backup service: csbs, or cbr (Cloud Backup and "
                "Recovery, which replaces CSBS)", commands=BOTH, choices=SERVICES),
    SettingSpec("endpoint", _api_url, None, "service endpoint, e.g. https://csbs.eu-de.otc.t-systems.com or "
                "https://cbr.eu-de.otc.t-systems.com (required)", commands=BOTH),
    SettingSpec("project_id", str, None, "project id the backups belong to (required)", commands=BOTH),
    SettingSpec("provider_id", str, DEFAULT_PROVIDER_ID, "CSBS provider id (fixed for CSBS)", commands=BOTH),
    SettingSpec("iam_endpoint", _api_url, None, "IAM endpoint for password login (with CSBS_PASSWORD)",
                commands=BOTH),
    SettingSpec("username", str, None, "IAM user name for password login", commands=BOTH),
    SettingSpec("domain_name", str, None, "IAM domain (account) name for password login", commands=BOTH),
    SettingSpec("concurrency", _positive_int, 5, "deletion tasks outstanding at most (the provider runs 5)"),
    SettingSpec("task_timeout", _positive_float, 1800.0, "seconds to follow one task", "task_timeout_s"),
    SettingSpec("max_rps", _positive_float, 10.0, "API requests per second, all calls together", commands=BOTH),
    SettingSpec("max_deletions", _positive_int, None, "refuse a plan with more tasks than this"),
    SettingSpec("expect_digest", _digest, None, "run only the approvable plan with this digest (as `plan "
                "--approvable` printed it), before it expires, at its project, service and endpoint",
                value_name="SHA256"),
    SettingSpec("deadline", _positive_float, None, "seconds the run may take before it stops (exit 4)",
                "deadline_s", commands=RUN),
    SettingSpec("grace", _seconds, 60.0, "seconds to follow tasks in flight after a stop", "grace_s",
                commands=RUN),
    SettingSpec("report", str, None, "write the JSON report to this file (- = stdout)", value_name="FILE",
                commands=RUN),
    SettingSpec("log_format", _choice(*LOG_FORMATS), "auto", "auto: JSON off a terminal", commands=EVERY,
                choices=LOG_FORMATS),
    SettingSpec("log_level", _choice(*LOG_LEVELS), "info", "lowest level logged", commands=EVERY,
                choices=LOG_LEVELS),
    SettingSpec("pushgateway", _url, None, "Prometheus Pushgateway URL: push run metrics at the end",
                commands=RUN),
    SettingSpec("pushgateway_job", str, "csbs-worker", "job label of the pushed metrics", commands=RUN),
    SettingSpec("progress_interval", _positive_float, 30.0, "seconds between progress events off a terminal",
                "progress_interval_s", commands=RUN),
    SettingSpec("poll_first", _seconds, 1.0, "seconds before the first look at a new task, until the run has "
                "seen tasks end (then learned from their durations)", "poll_first_s"),
    SettingSpec("poll_min", _positive_float, 1.0, "shortest pause between looks at a task (the floor of the "
                "learned pace)", "poll_min_s"),
    SettingSpec("poll_max", _positive_float, 60.0, "longest pause between looks without progress to go by "
                "(a progress estimate may wait 5 times this)", "poll_max_s"),
    SettingSpec("lag_window", _seconds, 60.0, "seconds a backup may still look untouched after its DELETE",
                "lag_window_s"),
    SettingSpec("retry_base", _positive_float, 1.0, "first backoff step in seconds (full jitter)", "retry_base_s",
                commands=EVERY),
    SettingSpec("retry_cap", _positive_float, 60.0, "longest backoff in seconds", "retry_cap_s", commands=EVERY),
    SettingSpec("request_timeout", _positive_float, 60.0, "seconds one API request may take",
                "request_timeout_s", commands=EVERY),
)

SECRET_ENV = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
              "CSBS_AUTH_TOKEN", "CSBS_PASSWORD")
SECRET_KEYS = frozenset({"ak", "sk", "security_token", "auth_token", "token", "password"})


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, after precedence and validation; units are in the names."""

    service: str
    endpoint: str | None
    project_id: str | None
    provider_id: str
    iam_endpoint: str | None
    username: str | None
    domain_name: str | None
    concurrency: int
    task_timeout_s: float
    max_rps: float
    max_deletions: int | None
    expect_digest: str | None
    deadline_s: float | None
    grace_s: float
    report: str | None
    log_format: str
    log_level: str
    pushgateway: str | None
    pushgateway_job: str
    progress_interval_s: float
    poll_first_s: float
    poll_min_s: float
    poll_max_s: float
    lag_window_s: float
    retry_base_s: float
    retry_cap_s: float
    request_timeout_s: float
    credentials: Credentials | None = None

    @property
    def preflight_budget_s(self) -> float:
        """How long the preflight may retry: one backoff cap plus one request timeout (two minutes by default)."""
        return self.retry_cap_s + self.request_timeout_s


PROVIDER_TASKS_PER_USER = 5  # CSBS runs five deletion tasks per user at once and queues the rest
# Every CSBS_ variable the worker reads besides the settings table (CSBS_SERVICE: the service to talk to).
OTHER_ENV = ("CSBS_CONFIG", "CSBS_SERVICE")


def known_env() -> frozenset[str]:
    """Every ``CSBS_*`` environment variable the worker knows."""
    return frozenset({spec.env for spec in SETTINGS} | set(OTHER_ENV) |
                     {name for name in SECRET_ENV if name.startswith("CSBS_")})


def _unknown_env_warnings(env: Mapping[str, str]) -> list[str]:
    known = known_env()
    warnings = []
    for name in sorted(env):
        if not name.startswith("CSBS_") or name in known:
            continue
        nearest = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {nearest[0]}?" if nearest else "; it is ignored"
        warnings.append(f"unknown environment variable {name}{hint}")
    return warnings


def settings_warnings(settings: Settings, env: Mapping[str, str] | None = None,
                      command: str = "delete") -> list[str]:
    """What a run of ``command`` should warn about in settings it accepts: unknown ``CSBS_*`` variables (a
    typo there silently leaves a default in force) and a concurrency above what the provider runs."""
    env = os.environ if env is None else env
    warnings = _unknown_env_warnings(env)
    if command == "delete" and settings.concurrency > PROVIDER_TASKS_PER_USER:
        warnings.append(
            f"concurrency {settings.concurrency} is above {PROVIDER_TASKS_PER_USER}: the provider runs "
            f"{PROVIDER_TASKS_PER_USER} deletion tasks per user and queues the rest, and their wait in the "
            "queue counts against the task timeout")
    return warnings


def parse_setting(spec: SettingSpec, raw: Any, where: str) -> Any:
    try:
        return spec.parse(str(raw))
    except ValueError as exc:
        reason = str(exc) if len(str(exc)) <= 200 else f"{str(exc)[:200]}..."  # float() echoes the value whole
        raise SettingsError(f"{where}: bad {spec.key} {quote(str(raw))}: {reason}") from None


def read_config_file(path: str) -> dict[str, tuple[Any, str]]:
    """The config file's values, each with where it stands (``file:line``) for error messages.

    Read with ``worker.yamlsource``, as plans and policies are: a key given twice, a control character or
    deep nesting is refused at its line, and echoed values are cut short.
    """
    try:
        root = compose(read_file(path, "the config file"), path)
        if root is None:
            return {}
        if not isinstance(root, MappingNode):
            raise SettingsError(f"{path}:{line_of(root)}: the config file must be a mapping of settings")
        known = {spec.key for spec in SETTINGS}
        values: dict[str, tuple[Any, str]] = {}
        for key_node, value_node in root.value:
            key, where = str(key_node.value), f"{path}:{line_of(key_node)}"
            if key in SECRET_KEYS:
                raise SettingsError(f"{where}: {key} is a secret: set it in the environment, never in a file")
            if not isinstance(key_node, ScalarNode) or key not in known:
                raise SettingsError(f"{where}: unknown setting {quote(key)} (known: {', '.join(sorted(known))})")
            values[key] = (construct(value_node, path), where)
        return values
    except YamlSourceError as error:
        raise SettingsError(str(error)) from None


def load_settings(flags: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Merge flag > environment > config file > default; flags hold None where not given.

    ``flags["config"]`` (or ``CSBS_CONFIG``) names the config file.
    """
    env = os.environ if env is None else env
    config_path = flags.get("config") or env.get("CSBS_CONFIG")
    config = read_config_file(config_path) if config_path else {}
    values: dict[str, Any] = {}
    for spec in SETTINGS:
        if flags.get(spec.key) is not None:
            values[spec.attribute] = parse_setting(spec, flags[spec.key], spec.flag)
        elif env.get(spec.env):
            values[spec.attribute] = parse_setting(spec, env[spec.env], spec.env)
        elif spec.key in config and config[spec.key][0] is not None:
            raw, where = config[spec.key]
            values[spec.attribute] = parse_setting(spec, raw, where)
        else:
            values[spec.attribute] = spec.default
    settings = Settings(**values)
    check_poll_bounds(settings)
    return settings


def check_poll_bounds(settings: Settings) -> None:
    if settings.poll_min_s > settings.poll_max_s:
        raise SettingsError(f"poll_min ({settings.poll_min_s}) is above poll_max ({settings.poll_max_s})")


def _found_methods(env: Mapping[str, str], prefix: str) -> dict[str, list[str]]:
    """Which sign-in methods the environment sets, with the variables that show it."""
    found: dict[str, list[str]] = {}
    aksk = [prefix + name for name in SECRET_ENV[:3] if env.get(prefix + name)]
    if aksk:
        found["AK/SK"] = aksk
    if env.get(prefix + "CSBS_AUTH_TOKEN"):
        found["token"] = [prefix + "CSBS_AUTH_TOKEN"]
    if env.get(prefix + "CSBS_PASSWORD"):
        found["password login"] = [prefix + "CSBS_PASSWORD"]
    return found


def load_credentials(settings: Settings, env: Mapping[str, str] | None = None, *,
                     prefix: str | None = None) -> Credentials:
    """Exactly one sign-in method from the environment, or a SettingsError saying what was found.

    ``prefix`` is a fleet user's ``env_prefix``: every variable is read, and named in messages, with it in
    front (``ACCT_A_CSBS_AUTH_TOKEN``), and password login's IAM endpoint, user and domain are the settings'
    (the fleet takes them from the prefixed variables, never from a config file). None: the one-project run.
    """
    env = os.environ if env is None else env
    p = prefix or ""
    found = _found_methods(env, p)
    if not found:
        raise SettingsError(
            f"no sign-in method is set: set {p}HUAWEICLOUD_SDK_AK and {p}HUAWEICLOUD_SDK_SK (AK/SK), or "
            f"{p}CSBS_AUTH_TOKEN (a ready token), or {p}CSBS_PASSWORD with {p}CSBS_IAM_ENDPOINT, "
            f"{p}CSBS_USERNAME and {p}CSBS_DOMAIN_NAME (password login)"
        )
    if len(found) > 1:
        listed = "; ".join(f"{name} ({', '.join(names)})" for name, names in found.items())
        raise SettingsError(f"several sign-in methods are set: {listed}; keep exactly one")
    method = next(iter(found))
    if method == "token":
        return TokenCredentials(Secret(env[p + "CSBS_AUTH_TOKEN"]))
    if method == "AK/SK":
        return _aksk(env, p)
    return _password(settings, env, prefix)


def _aksk(env: Mapping[str, str], prefix: str) -> AkSkCredentials:
    ak, sk, token = (prefix + name for name in SECRET_ENV[:3])
    missing = [name for name in (ak, sk) if not env.get(name)]
    if missing:
        raise SettingsError(f"AK/SK signing needs {ak} and {sk}; {missing[0]} is not set")
    security_token = env.get(token)
    return AkSkCredentials(Secret(env[ak]), Secret(env[sk]), Secret(security_token) if security_token else None)


def _password(settings: Settings, env: Mapping[str, str], prefix: str | None) -> PasswordCredentials:
    needed = {"iam_endpoint": settings.iam_endpoint, "username": settings.username,
              "domain_name": settings.domain_name}
    missing = [_password_variable(key, prefix) for key, value in needed.items() if not value]
    if missing:
        raise SettingsError(f"password login needs {', '.join(missing)}")
    assert settings.iam_endpoint and settings.username and settings.domain_name
    return PasswordCredentials(settings.iam_endpoint, settings.username, settings.domain_name,
                               Secret(env[(prefix or "") + "CSBS_PASSWORD"]))


def _password_variable(key: str, prefix: str | None) -> str:
    """Where a password-login setting comes from: a fleet user's prefixed variable, or a setting of the run."""
    if prefix is not None:
        return f"{prefix}CSBS_{key.upper()}"
    return f"CSBS_{key.upper()} (or {key} in the config file)"


def require_cloud(settings: Settings, env: Mapping[str, str] | None = None) -> Settings:
    """The settings with credentials, once endpoint and project are known to be set."""
    required = [spec for spec in SETTINGS if spec.key in ("endpoint", "project_id")]
    missing = [spec for spec in required if getattr(settings, spec.attribute) is None]
    if missing:
        names = " and ".join(f"{spec.key} ({spec.flag}, {spec.env} or the config file)" for spec in missing)
        raise SettingsError(f"{names} must be set: there is no default")
    return replace(settings, credentials=load_credentials(settings, env))
