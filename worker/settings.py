"""The run's settings: flag > environment > config file > default, one table for all of them.

Every setting has one row in ``SETTINGS``. Its long flag is ``--{key with - for _}``, its environment
variable ``CSBS_{KEY}``, its config-file key ``key``. Secrets are not in the table: they come only from
the environment (design.md), see ``load_credentials``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import yaml

from worker.csbs.client import DEFAULT_PROVIDER_ID
from worker.errors import SettingsError


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


@dataclass(frozen=True)
class SettingSpec:
    """One row of the settings table."""

    key: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    field: str = ""  # the Settings attribute, when it differs from key (units in names)

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
        if self.attribute.endswith("_s"):
            return "SECONDS"
        if self.parse in (_positive_int, _positive_float):
            return "N"
        return "URL" if self.parse is _url else self.key.upper()


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("endpoint", _url, None, "CSBS endpoint, e.g. https://csbs.eu-de.otc.t-systems.com (required)"),
    SettingSpec("project_id", str, None, "project id the backups belong to (required)"),
    SettingSpec("provider_id", str, DEFAULT_PROVIDER_ID, "CSBS provider id (fixed for CSBS)"),
    SettingSpec("iam_endpoint", _url, None, "IAM endpoint for password login (with CSBS_PASSWORD)"),
    SettingSpec("username", str, None, "IAM user name for password login"),
    SettingSpec("domain_name", str, None, "IAM domain (account) name for password login"),
    SettingSpec("concurrency", _positive_int, 5, "deletion tasks outstanding at most (the provider runs 5)"),
    SettingSpec("task_timeout", _positive_float, 1800.0, "seconds to follow one task", "task_timeout_s"),
    SettingSpec("max_rps", _positive_float, 10.0, "API requests per second, all calls together"),
    SettingSpec("max_deletions", _positive_int, None, "refuse a plan with more tasks than this"),
    SettingSpec("deadline", _positive_float, None, "seconds the run may take before it stops (exit 4)",
                "deadline_s"),
    SettingSpec("grace", _seconds, 60.0, "seconds to follow tasks in flight after a stop", "grace_s"),
    SettingSpec("report", str, None, "write the JSON report to this file (- = stdout)"),
    SettingSpec("log_format", _choice("auto", "json", "console"), "auto", "auto: JSON off a terminal"),
    SettingSpec("log_level", _choice("debug", "info", "warning", "error"), "info", "lowest level logged"),
    SettingSpec("pushgateway", _url, None, "Prometheus Pushgateway URL: push run metrics at the end"),
    SettingSpec("pushgateway_job", str, "csbs-worker", "job label of the pushed metrics"),
    SettingSpec("progress_interval", _positive_float, 30.0, "seconds between progress events off a terminal",
                "progress_interval_s"),
    SettingSpec("poll_first", _seconds, 5.0, "seconds before the first look at a new task", "poll_first_s"),
    SettingSpec("poll_min", _positive_float, 2.0, "shortest pause between looks at a task", "poll_min_s"),
    SettingSpec("poll_max", _positive_float, 60.0, "longest pause between looks without progress to go by "
                "(a progress estimate may wait 5 times this)", "poll_max_s"),
    SettingSpec("lag_window", _seconds, 60.0, "seconds a backup may still look untouched after its DELETE",
                "lag_window_s"),
    SettingSpec("retry_base", _positive_float, 1.0, "first backoff step in seconds (full jitter)", "retry_base_s"),
    SettingSpec("retry_cap", _positive_float, 60.0, "longest backoff in seconds", "retry_cap_s"),
    SettingSpec("request_timeout", _positive_float, 60.0, "seconds one API request may take",
                "request_timeout_s"),
)

SECRET_ENV = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
              "CSBS_AUTH_TOKEN", "CSBS_PASSWORD")
_SECRET_KEYS = frozenset({"ak", "sk", "security_token", "auth_token", "token", "password"})


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, after precedence and validation; units are in the names."""

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


def _parse(spec: SettingSpec, raw: Any, where: str) -> Any:
    try:
        return spec.parse(str(raw))
    except ValueError as exc:
        raise SettingsError(f"{where}: bad {spec.key} {str(raw)!r}: {exc}") from None


def read_config_file(path: str) -> dict[str, tuple[Any, str]]:
    """The config file's values, each with where it stands (``file:line``) for error messages."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # for the line of each key
        data = yaml.safe_load(text)
    except OSError as exc:
        raise SettingsError(f"config file {path}: cannot read it: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {path}: not valid YAML: {exc}") from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise SettingsError(f"{path}:{root.start_mark.line + 1}: the config file must be a mapping of settings")
    known = {spec.key for spec in SETTINGS}
    values: dict[str, tuple[Any, str]] = {}
    for key_node, _ in root.value:
        key, where = str(key_node.value), f"{path}:{key_node.start_mark.line + 1}"
        if key in _SECRET_KEYS:
            raise SettingsError(f"{where}: {key} is a secret: set it in the environment, never in a file")
        if key not in known:
            raise SettingsError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
        values[key] = (data.get(key), where)
    return values


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
            values[spec.attribute] = _parse(spec, flags[spec.key], spec.flag)
        elif env.get(spec.env):
            values[spec.attribute] = _parse(spec, env[spec.env], spec.env)
        elif spec.key in config and config[spec.key][0] is not None:
            raw, where = config[spec.key]
            values[spec.attribute] = _parse(spec, raw, where)
        else:
            values[spec.attribute] = spec.default
    settings = Settings(**values)
    _check_poll_bounds(settings)
    return settings


def _check_poll_bounds(settings: Settings) -> None:
    if settings.poll_min_s > settings.poll_max_s:
        raise SettingsError(f"poll_min ({settings.poll_min_s}) is above poll_max ({settings.poll_max_s})")


def _found_methods(env: Mapping[str, str]) -> dict[str, list[str]]:
    """Which sign-in methods the environment sets, with the variables that show it."""
    found: dict[str, list[str]] = {}
    aksk = [name for name in SECRET_ENV[:3] if env.get(name)]
    if aksk:
        found["AK/SK"] = aksk
    if env.get("CSBS_AUTH_TOKEN"):
        found["token"] = ["CSBS_AUTH_TOKEN"]
    if env.get("CSBS_PASSWORD"):
        found["password login"] = ["CSBS_PASSWORD"]
    return found


def load_credentials(settings: Settings, env: Mapping[str, str] | None = None) -> Credentials:
    """Exactly one sign-in method from the environment, or a SettingsError saying what was found."""
    env = os.environ if env is None else env
    found = _found_methods(env)
    if not found:
        raise SettingsError(
            "no sign-in method is set: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (AK/SK), or "
            "CSBS_AUTH_TOKEN (a ready token), or CSBS_PASSWORD with CSBS_IAM_ENDPOINT, CSBS_USERNAME and "
            "CSBS_DOMAIN_NAME (password login)"
        )
    if len(found) > 1:
        listed = "; ".join(f"{name} ({', '.join(names)})" for name, names in found.items())
        raise SettingsError(f"several sign-in methods are set: {listed}; keep exactly one")
    method = next(iter(found))
    if method == "token":
        return TokenCredentials(Secret(env["CSBS_AUTH_TOKEN"]))
    if method == "AK/SK":
        return _aksk(env)
    return _password(settings, env)


def _aksk(env: Mapping[str, str]) -> AkSkCredentials:
    missing = [name for name in SECRET_ENV[:2] if not env.get(name)]
    if missing:
        raise SettingsError(f"AK/SK signing needs {' and '.join(SECRET_ENV[:2])}; {missing[0]} is not set")
    token = env.get("HUAWEICLOUD_SDK_SECURITY_TOKEN")
    return AkSkCredentials(
        Secret(env["HUAWEICLOUD_SDK_AK"]), Secret(env["HUAWEICLOUD_SDK_SK"]), Secret(token) if token else None
    )


def _password(settings: Settings, env: Mapping[str, str]) -> PasswordCredentials:
    needed = {"iam_endpoint": settings.iam_endpoint, "username": settings.username,
              "domain_name": settings.domain_name}
    missing = [f"CSBS_{key.upper()} (or {key} in the config file)" for key, value in needed.items() if not value]
    if missing:
        raise SettingsError(f"password login needs {', '.join(missing)}")
    assert settings.iam_endpoint and settings.username and settings.domain_name
    return PasswordCredentials(settings.iam_endpoint, settings.username, settings.domain_name,
                               Secret(env["CSBS_PASSWORD"]))


def require_cloud(settings: Settings, env: Mapping[str, str] | None = None) -> Settings:
    """The settings with credentials, once endpoint and project are known to be set."""
    missing = [spec for spec in SETTINGS[:2] if getattr(settings, spec.attribute) is None]
    if missing:
        names = " and ".join(f"{spec.key} ({spec.flag}, {spec.env} or the config file)" for spec in missing)
        raise SettingsError(f"{names} must be set: there is no default")
    return replace(settings, credentials=load_credentials(settings, env))
