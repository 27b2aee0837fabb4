"""Settings: flag > environment > config file > default, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.errors import SettingsError
from worker.settings import (
    AkSkCredentials,
    PasswordCredentials,
    Secret,
    TokenCredentials,
    load_credentials,
    load_settings,
    require_cloud,
)


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "worker.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    """A flag beats the environment, which beats the file, which beats the default."""
    path = config(tmp_path, "concurrency: 2\ngrace: 10\ntask_timeout: 99\n")
    settings = load_settings({"config": path, "concurrency": "4"},
                             {"CSBS_CONCURRENCY": "3", "CSBS_GRACE": "20"})
    assert settings.concurrency == 4  # flag
    assert settings.grace_s == 20.0  # environment
    assert settings.task_timeout_s == 99.0  # file
    assert settings.max_rps == 10.0  # default


def test_config_file_from_environment(tmp_path: Path) -> None:
    """CSBS_CONFIG names the config file when --config is not given."""
    path = config(tmp_path, "project_id: abc\n")
    assert load_settings({}, {"CSBS_CONFIG": path}).project_id == "abc"


@pytest.mark.parametrize(
    ("flags", "env", "text", "words"),
    [
        ({"concurrency": "0"}, {}, None, ["--concurrency", "'0'"]),
        ({}, {"CSBS_TASK_TIMEOUT": "soon"}, None, ["CSBS_TASK_TIMEOUT", "'soon'"]),
        ({}, {}, "endpoint: ftp://x\n", ["worker.yaml:1", "endpoint"]),
        ({}, {}, "concurrency: 2\nconcurency: 3\n", ["worker.yaml:2", "concurency"]),
        ({}, {}, "sk: abc\n", ["worker.yaml:1", "environment"]),
        ({}, {}, "- a\n- b\n", ["worker.yaml:1", "mapping"]),
        ({}, {}, "a: [\n", ["not valid YAML"]),
        ({"poll_min": "10", "poll_max": "5"}, {}, None, ["poll_min"]),
    ],
    ids=["flag", "env", "file-value", "unknown-key", "secret-in-file", "not-mapping", "syntax", "poll-bounds"],
)
def test_bad_settings_name_their_place(tmp_path: Path, flags: dict[str, str], env: dict[str, str],
                                       text: str | None, words: list[str]) -> None:
    """Every bad setting is a SettingsError naming where it came from."""
    if text is not None:
        flags = {**flags, "config": config(tmp_path, text)}
    with pytest.raises(SettingsError) as raised:
        load_settings(flags, env)
    for word in words:
        assert word in str(raised.value)


def test_a_key_without_value_means_the_default(tmp_path: Path) -> None:
    """`endpoint:` with nothing after it leaves the setting unset instead of failing."""
    settings = load_settings({"config": config(tmp_path, "endpoint:\nconcurrency: 3\n")}, {})
    assert settings.endpoint is None and settings.concurrency == 3


def test_each_sign_in_method() -> None:
    """Token, AK/SK (with a security token) and password login are each recognised on their own."""
    base = load_settings({"iam_endpoint": "https://iam.x", "username": "u", "domain_name": "d"}, {})
    assert isinstance(load_credentials(base, {"CSBS_AUTH_TOKEN": "t"}), TokenCredentials)
    aksk = load_credentials(base, {"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "s",
                                   "HUAWEICLOUD_SDK_SECURITY_TOKEN": "x"})
    assert isinstance(aksk, AkSkCredentials) and aksk.security_token is not None
    assert isinstance(load_credentials(base, {"CSBS_PASSWORD": "p"}), PasswordCredentials)


def test_secrets_never_show_in_reprs() -> None:
    """A Secret's repr, and so every settings repr, hides its value."""
    settings = require_cloud(load_settings({"endpoint": "https://csbs.x", "project_id": "p"}, {}),
                             {"HUAWEICLOUD_SDK_AK": "AKVALUE", "HUAWEICLOUD_SDK_SK": "SKVALUE"})
    shown = repr(settings) + str(Secret("SKVALUE"))
    assert "SKVALUE" not in shown and "AKVALUE" not in shown


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("concurrency: 2\ngrace: 5\nconcurrency: 3\n", ["worker.yaml:3", "'concurrency' appears twice"]),
        ("concurrency: 2\nendpoint: https://x\x01\n", ["worker.yaml:2", "U+0001"]),
        ("concurrency: 2\ngrace: " + "[" * 100 + "]" * 100 + "\n", ["worker.yaml:2", "nested more than"]),
        ("grace: 5\nconcurrency: " + "7" * 5000 + "\n", ["worker.yaml:2", "as a number"]),
        ("? " + "x" * 5000 + "\n: 1\n", ["worker.yaml:1", "(5000 characters)"]),
    ],
    ids=["duplicate-key", "control-character", "deep", "huge-number", "long-key-cut"],
)
def test_bad_config_file_is_refused_at_its_line(tmp_path: Path, text: str, words: list[str]) -> None:
    """The config file is read like a plan: repeated keys, control characters, deep nesting and huge numbers
    are a SettingsError at their line, and a long key is echoed cut short."""
    with pytest.raises(SettingsError) as raised:
        load_settings({"config": config(tmp_path, text)}, {})
    message = str(raised.value)
    for word in words:
        assert word in message
    assert len(message) < 600  # the list of known settings, but never the input whole


def test_config_file_not_utf8_names_its_line(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 in the config file are reported at their line, not as a traceback."""
    path = tmp_path / "worker.yaml"
    path.write_bytes(b"concurrency: 2\nproject_id: \xff\n")
    with pytest.raises(SettingsError, match=r"worker\.yaml:2: the config file is not UTF-8 text"):
        load_settings({"config": str(path)}, {})
