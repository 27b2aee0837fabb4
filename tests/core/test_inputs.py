"""Inputs are right or refused: unknown CSBS_* variables and a concurrency above five are warned about,
plain-http endpoints to real hosts are refused, ``plan`` takes only the options it uses."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import run_worker
from worker.cli import build_parser
from worker.errors import SettingsError
from worker.settings import load_settings, settings_warnings


def warnings_for(env: dict[str, str], command: str = "delete") -> list[str]:
    """The warnings of a run with ``env``; the settings are the defaults unless the env sets concurrency."""
    settings = load_settings({}, {key: value for key, value in env.items() if key == "CSBS_CONCURRENCY"})
    return settings_warnings(settings, env, command)


def test_a_misspelt_variable_names_the_nearest_known_one() -> None:
    """CSBS_CONCURENCY=2 is not silently ignored: the warning names CSBS_CONCURRENCY."""
    [warning] = warnings_for({"CSBS_CONCURENCY": "2", "HOME": "/root"})
    assert "CSBS_CONCURENCY" in warning and "CSBS_CONCURRENCY" in warning


@pytest.mark.parametrize("name", ["CSBS_CONFIG", "CSBS_AUTH_TOKEN", "CSBS_PASSWORD", "CSBS_SERVICE",
                                  "CSBS_TASK_TIMEOUT", "CSBS_IAM_ENDPOINT"])
def test_known_variables_are_not_warned_about(name: str) -> None:
    """Settings, the config file, secrets and the service variable are all known."""
    assert warnings_for({name: "x"}) == []


def test_concurrency_above_five_is_accepted_with_a_warning() -> None:
    """Six slots are allowed, but the operator learns the sixth task waits in the provider's queue."""
    env = {"CSBS_CONCURRENCY": "6"}
    assert load_settings({}, env).concurrency == 6
    [warning] = warnings_for(env)
    assert "runs 5 deletion tasks per user" in warning and "queue" in warning and "task timeout" in warning
    assert warnings_for({"CSBS_CONCURRENCY": "5"}) == []
    assert warnings_for(env, command="plan") == []  # plan deletes nothing: no slots to warn about


def test_the_run_logs_setting_warnings(monkeypatch: Any, capsys: Any) -> None:
    """A run shows each warning as a ``setting_warning`` event before it goes on."""
    run = run_worker(["plan", "--policy", "missing.yaml"], {"CSBS_CONCURENCY": "2"}, monkeypatch, capsys)
    [warning] = run.named("setting_warning")
    assert "CSBS_CONCURRENCY" in warning["detail"] and warning["level"] == "warning"


@pytest.mark.parametrize("endpoint", ["http://csbs.eu-de.otc.t-systems.com", "http://10.0.0.1:8080",
                                      "http://127.0.0.1.example.com"])
@pytest.mark.parametrize("key", ["endpoint", "iam_endpoint"])
def test_plain_http_to_a_real_host_is_refused(key: str, endpoint: str) -> None:
    """Tokens and signatures never go over plain http to a real host."""
    with pytest.raises(SettingsError, match="https://"):
        load_settings({key: endpoint}, {})


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8080", "http://127.9.9.9", "http://[::1]:8080",
                                      "http://localhost:1234", "https://csbs.eu-de.otc.t-systems.com"])
def test_https_and_loopback_http_are_accepted(endpoint: str) -> None:
    """The emulator on loopback may be plain http; any host may be https."""
    assert load_settings({"endpoint": endpoint}, {}).endpoint == endpoint


def test_the_pushgateway_may_stay_plain_http() -> None:
    """Metrics carry no credentials."""
    assert load_settings({"pushgateway": "http://gateway.monitoring:9091"}, {}).pushgateway


def test_an_http_endpoint_exits_2(monkeypatch: Any, capsys: Any) -> None:
    """From the command line, the refusal is a bad input (exit 2) naming the setting."""
    run = run_worker(["plan", "--policy", "missing.yaml", "--endpoint", "http://csbs.example.com"], {},
                     monkeypatch, capsys)
    assert run.code == 2
    [event] = run.named("bad_input")
    assert "--endpoint" in event["error"] and "https://" in event["error"]


def help_of(command: str, capsys: Any) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return str(capsys.readouterr().out)


@pytest.mark.parametrize("option", ["--concurrency", "--grace", "--task-timeout", "--poll-first", "--poll-max",
                                    "--lag-window", "--report", "--deadline", "--pushgateway",
                                    "--max-deletions"])
def test_plan_lists_and_accepts_only_its_options(option: str, capsys: Any) -> None:
    """``plan --help`` leaves out what plan ignores, and such an option is refused (exit 2)."""
    text = help_of("plan", capsys)
    assert option not in text and "--endpoint" in text and "--max-rps" in text
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["plan", "--policy", "p.yaml", option, "3"])
    assert stopped.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_help_lists_choices_files_and_plain_defaults(capsys: Any) -> None:
    """Choices are listed, the report takes a FILE, whole seconds print without ``.0``."""
    text = " ".join(help_of("delete", capsys).split())
    assert "--log-format {auto,json,console}" in text
    assert "--log-level {debug,info,warning,error}" in text
    assert "--report FILE" in text
    assert "default 1800)" in text and "1800.0" not in text and ".0)" not in text


def test_a_bad_choice_is_refused_by_the_parser(capsys: Any) -> None:
    """``--log-format xml`` is an argparse error (exit 2) listing the choices."""
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["delete", "--log-format", "xml"])
    assert stopped.value.code == 2
    assert "auto" in capsys.readouterr().err
