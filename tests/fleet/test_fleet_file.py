"""The fleet file on its own: its levels, the keys each takes, its values, names and projects, each fault at
its file:line and target (exit 2 before anything is sent)."""

from __future__ import annotations

import pytest

from tests.fleet.conftest import PROJECT_A_DEV, PROJECT_B, TOKEN_A, Load, edit
from tests.plan.samples import PROJECT
from worker.errors import SettingsError, UsageError
from worker.provider import DEFAULT_PROVIDER_ID
from worker.settings import TokenCredentials


def refused(load: Load, text: str, **options: object) -> str:
    """The message of the UsageError the fleet file is refused with."""
    with pytest.raises(UsageError) as raised:
        load(text, **options)
    assert raised.value.exit_code == 2
    return str(raised.value)


def test_the_file_loads_into_users_and_targets(load: Load) -> None:
    """Every user with its index and targets, each target with its line, settings, input and sign-in."""
    fleet = load()
    assert fleet.user_count == 2 and fleet.warnings == ()
    assert [(user.name, user.index, user.concurrency, user.max_rps) for user in fleet.users] == [
        ("acct-a", 0, 5, 10.0), ("acct-b", 1, 5, 10.0)]
    a_prod, a_dev = fleet.users[0].targets
    assert a_prod.where.endswith("fleet.yaml:7") and a_prod.user == "acct-a"
    assert (a_prod.settings.service, a_prod.settings.endpoint, a_prod.settings.project_id) == (
        "csbs", "https://csbs.eu-de.otc.t-systems.com", PROJECT)
    assert a_prod.plan is not None and len(a_prod.plan) == 2 and a_prod.policy is None
    assert a_prod.plan_path is not None and a_prod.plan_path.endswith("plans/a.txt") and a_prod.policy_path is None
    assert a_dev.settings.service == "cbr" and a_dev.plan is None and a_dev.policy is not None
    assert a_dev.policy.keep.last == 3 and a_dev.policy_path is not None
    credentials = a_prod.settings.credentials
    assert isinstance(credentials, TokenCredentials) and credentials.token.reveal() == TOKEN_A


def test_the_nearer_level_wins(load: Load) -> None:
    """target > user > defaults > the settings table's default, for per-target and per-user settings."""
    text = edit("  task_timeout: 600\n", "  task_timeout: 600\n  poll_max: 30\n  concurrency: 4\n  max_rps: 8\n")
    text = edit("    env_prefix: ACCT_A_\n", "    env_prefix: ACCT_A_\n    task_timeout: 700\n    concurrency: 2\n",
                text)
    text = edit("        plan: plans/a.txt\n", "        plan: plans/a.txt\n        task_timeout: 800\n", text)
    fleet = load(text)
    (a_prod, a_dev), (b_prod,) = fleet.users[0].targets, fleet.users[1].targets
    assert [t.settings.task_timeout_s for t in (a_prod, a_dev, b_prod)] == [800.0, 700.0, 600.0]
    assert {t.settings.poll_max_s for t in (a_prod, a_dev, b_prod)} == {30.0}  # defaults
    assert [t.settings.concurrency for t in (a_prod, a_dev, b_prod)] == [2, 2, 4]
    assert [(user.concurrency, user.max_rps) for user in fleet.users] == [(2, 8.0), (4, 8.0)]
    assert a_prod.settings.lag_window_s == 60.0 and a_prod.settings.provider_id == DEFAULT_PROVIDER_ID  # built in


def test_a_user_level_value_serves_its_targets(load: Load) -> None:
    """A per-target value on a user (here the endpoint) serves every target of it that sets none."""
    text = edit("    env_prefix: ACCT_B_\n", "    env_prefix: ACCT_B_\n    endpoint: https://csbs.eu-nl.otc.t-systems.com\n")
    text = edit(f"        endpoint: https://csbs.eu-de.otc.t-systems.com\n        project_id: {PROJECT_B}\n",
                f"        project_id: {PROJECT_B}\n", text)
    assert load(text).users[1].targets[0].settings.endpoint == "https://csbs.eu-nl.otc.t-systems.com"


def test_an_empty_value_falls_back_to_the_next_level(load: Load) -> None:
    """``key:`` with nothing after it sets nothing at that level, as in the config file."""
    text = edit("        plan: plans/a.txt\n", "        plan: plans/a.txt\n        task_timeout:\n")
    assert load(text).users[0].targets[0].settings.task_timeout_s == 600.0


def test_the_runs_own_values_stay_and_its_per_target_values_never_leak(load: Load) -> None:
    """Per-run values come from the run's settings; per-target and per-user ones only from the file, and
    the run is warned about those it set."""
    fleet = load(flags={"report": "r.json", "deadline": "300", "retry_base": "2"},
                 run_env={"CSBS_ENDPOINT": "https://csbs.elsewhere.example", "CSBS_CONCURRENCY": "1",
                          "CSBS_TASK_TIMEOUT": "5", "CSBS_PROJECT_ID": "f" * 32})
    settings = fleet.users[0].targets[0].settings
    assert (settings.report, settings.deadline_s, settings.retry_base_s) == ("r.json", 300.0, 2.0)
    assert (settings.endpoint, settings.project_id) == ("https://csbs.eu-de.otc.t-systems.com", PROJECT)
    assert (settings.concurrency, settings.task_timeout_s) == (5, 600.0)
    warned = " | ".join(fleet.warnings)
    for key in ("endpoint", "project_id", "concurrency", "task_timeout"):
        assert f"{key} is set for the run" in warned
    assert len(fleet.warnings) == 4


def test_a_concurrency_above_the_providers_is_warned_about_per_user(load: Load) -> None:
    """A user's pool of more than five is accepted, with the delete run's warning naming the user."""
    fleet = load(edit("    env_prefix: ACCT_B_\n", "    env_prefix: ACCT_B_\n    concurrency: 8\n"))
    assert fleet.users[1].concurrency == 8
    (warning,) = fleet.warnings
    assert "fleet.yaml:16: user acct-b: concurrency 8 is above 5" in warning


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("        endpoint: https://csbs.eu-de.otc.t-systems.com\n        project_id: 01",
         "        endpoint: http://csbs.eu-de.otc.t-systems.com\n        project_id: 01",
         ["fleet.yaml:8: target a-prod: bad endpoint 'http://csbs.eu-de.otc.t-systems.com'", "https://"]),
        ("        service: cbr\n", "        service: evs\n", ["fleet.yaml:12: target a-dev: bad service 'evs'"]),
        ("  task_timeout: 600\n", "  task_timeout: soon\n", ["fleet.yaml:2: defaults: bad task_timeout 'soon'"]),
        ("    env_prefix: ACCT_B_\n", "    env_prefix: ACCT_B_\n    concurrency: 0\n",
         ["fleet.yaml:18: user acct-b: bad concurrency '0'", "at least 1"]),
        ("        plan: plans/a.txt\n", "        plan: plans/a.txt\n        max_deletions: yes\n",
         ["fleet.yaml:11: target a-prod: bad max_deletions 'yes'"]),
        ("        plan: plans/a.txt\n", "        plan: plans/a.txt\n        poll_min: 90\n",
         ["fleet.yaml:7: target a-prod: poll_min (90.0) is above poll_max (60.0)"]),
        ("        plan: plans/a.txt\n", "        plan: plans/a.txt\n        task_timeout: [1, 2]\n",
         ["fleet.yaml:11: target a-prod: expected a single value"]),
    ],
    ids=["http-endpoint", "service", "defaults-value", "user-value", "boolean", "poll-bounds", "a-list"],
)
def test_bad_values_name_file_line_and_target(load: Load, old: str, new: str, words: list[str]) -> None:
    """Values are read by the settings table's parsers; a bad one names file:line and its level."""
    message = refused(load, edit(old, new))
    for word in words:
        assert word in message


@pytest.mark.parametrize("key", ["endpoint", "project_id"])
def test_endpoint_and_project_come_from_some_level(load: Load, key: str) -> None:
    """A target that no level gives an endpoint or a project is refused at its line."""
    line = {"endpoint": "        endpoint: https://cbr.eu-nl.otc.t-systems.com\n",
            "project_id": f"        project_id: {PROJECT_A_DEV}\n"}[key]
    message = refused(load, edit(line, ""))
    assert f"fleet.yaml:11: target a-dev: no {key}" in message and "defaults" in message


@pytest.mark.parametrize("key", ["report", "deadline", "grace", "pushgateway", "log_level", "retry_base",
                                 "request_timeout", "progress_interval", "pushgateway_job"])
@pytest.mark.parametrize(("old", "line", "level"), [
    ("  task_timeout: 600\n", 3, "defaults"),
    ("    env_prefix: ACCT_A_\n", 6, "user acct-a"),
    ("        plan: plans/a.txt\n", 11, "target a-prod"),
], ids=["defaults", "user", "target"])
def test_per_run_settings_are_refused_where_they_stand(load: Load, key: str, old: str, line: int,
                                                       level: str) -> None:
    """A per-run setting at any level is exit 2 saying where it belongs (its flag: the fleet command's own)."""
    indent = old[:len(old) - len(old.lstrip())]
    message = refused(load, edit(old, f"{old}{indent}{key}: 1\n"))
    assert f"fleet.yaml:{line}: {level}: {key} is a per-run setting" in message
    assert f"CSBS_{key.upper()}" in message
    assert "--config" in message


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("        plan: plans/a.txt\n", "        plan: plans/a.txt\n        concurrency: 3\n",
         ["fleet.yaml:11: target a-prod: concurrency is per user", "on the user or in defaults"]),
        ("        plan: plans/a.txt\n", "        plan: plans/a.txt\n        max_rps: 3\n", ["max_rps is per user"]),
        ("  task_timeout: 600\n", "  task_timeout: 600\n  plan: plans/a.txt\n",
         ["fleet.yaml:3: defaults: plan is per target"]),
        ("    env_prefix: ACCT_A_\n", "    env_prefix: ACCT_A_\n    policy: p.yaml\n",
         ["fleet.yaml:6: user acct-a: policy is per target"]),
        ("  task_timeout: 600\n", "  task_timeout: 600\n  env_prefix: X_\n", ["env_prefix is per user"]),
        ("    env_prefix: ACCT_A_\n", "    env_prefix: ACCT_A_\n    iam_endpoint: https://iam.x\n",
         ["fleet.yaml:6: user acct-a: iam_endpoint is part of a user's sign-in", "<env_prefix>CSBS_IAM_ENDPOINT"]),
        ("        plan: plans/a.txt\n", "        plan: plans/a.txt\n        task_timout: 5\n",
         ["fleet.yaml:11: target a-prod: unknown key 'task_timout'", "did you mean task_timeout?"]),
        ("users:\n", "userz: []\nusers:\n", ["fleet.yaml:3: the fleet file: unknown key 'userz'"]),
        ("  task_timeout: 600\n", "  task_timeout: 600\n  name: x\n", ["fleet.yaml:3: defaults: unknown key 'name'"]),
    ],
    ids=["user-key-on-target", "max-rps-on-target", "plan-default", "policy-on-user", "prefix-default",
         "sign-in-key", "typo", "top-level", "name-default"],
)
def test_keys_at_the_wrong_level_say_where_they_belong(load: Load, old: str, new: str, words: list[str]) -> None:
    """Each level takes its own keys; another key is refused, saying where it goes."""
    message = refused(load, edit(old, new))
    for word in words:
        assert word in message


@pytest.mark.parametrize("key", ["password", "sk", "ak", "token", "auth_token", "security_token"])
@pytest.mark.parametrize(("old", "indent"), [("  task_timeout: 600\n", "  "),
                                             ("    env_prefix: ACCT_A_\n", "    "),
                                             ("        plan: plans/a.txt\n", "        ")],
                         ids=["defaults", "user", "target"])
def test_secrets_in_the_file_are_refused_and_never_echoed(load: Load, key: str, old: str, indent: str) -> None:
    """A secret in the fleet file is refused as the config file refuses it, without its value."""
    message = refused(load, edit(old, f"{old}{indent}{key}: hunter2-SECRET\n"))
    assert f"{key} is a secret" in message and "environment" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("  - name: acct-b\n", "  - name: acct-a\n",
         ["fleet.yaml:16: user name acct-a is used twice (first at line 4)"]),
        ("      - name: b-prod\n", "      - name: a-prod\n",
         ["fleet.yaml:19: target name a-prod is used twice (first at line 7)"]),
        ("    env_prefix: ACCT_B_\n", "    env_prefix: ACCT_A_\n",
         ["fleet.yaml:16: env_prefix 'ACCT_A_' is used twice"]),
        (f"        project_id: {PROJECT_B}\n", f"        project_id: {PROJECT.upper()}\n",
         ["fleet.yaml:19: target b-prod: project", "is target a-prod's already (line 7)"]),
    ],
    ids=["user", "target-across-users", "env-prefix", "project-any-case"],
)
def test_names_prefixes_and_projects_are_unique(load: Load, old: str, new: str, words: list[str]) -> None:
    """A user or target name, an env_prefix, or a (service, endpoint, project) used twice is refused."""
    message = refused(load, edit(old, new))
    for word in words:
        assert word in message


def test_one_project_may_be_a_target_of_each_service(load: Load) -> None:
    """The same project under CSBS and under CBR is two targets."""
    text = edit(f"        project_id: {PROJECT_A_DEV}\n", f"        project_id: {PROJECT}\n")
    assert len(load(text).users[0].targets) == 2


def test_an_endpoint_written_otherwise_is_the_same_endpoint(load: Load) -> None:
    """Case and a trailing slash do not make another endpoint: the same project there is refused."""
    text = edit("        endpoint: https://csbs.eu-de.otc.t-systems.com\n        project_id: 00",
                "        endpoint: https://CSBS.eu-de.otc.t-systems.com/\n        project_id: 00")
    text = edit(f"        project_id: {PROJECT_B}\n", f"        project_id: {PROJECT}\n", text)
    assert "fleet.yaml:19: target b-prod: project" in refused(load, text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("# nothing\n", ["fleet.yaml:1: the fleet file is empty"]),
        ("- a\n", ["fleet.yaml:1: the fleet file must be a mapping"]),
        ("defaults:\n  task_timeout: 5\n", ["fleet.yaml:1: no users"]),
        ("users: []\n", ["fleet.yaml:1: users must be a list of at least one user"]),
        ("users:\n  - name: u\n    env_prefix: U_\n", ["fleet.yaml:2: user u: no targets"]),
        ("users:\n  - name: u\n    targets: []\n", ["fleet.yaml:2: user u: no env_prefix"]),
        ("users:\n  - env_prefix: U_\n", ["fleet.yaml:2: user 0 has no name"]),
        ("users:\n  - name: u\n    env_prefix: 1-X\n    targets: []\n", ["fleet.yaml:3: user u: env_prefix '1-X'"]),
        ("users:\n  - name: a b\n", ["fleet.yaml:2: user 0: name 'a b' must be"]),
        ("users:\n  - name: u\n    env_prefix: U_\n    targets:\n      - name: t\n        endpoint: https://x\n",
         ["fleet.yaml:5: target t: neither plan: nor policy:"]),
        ("users:\n  - name: u\n    env_prefix: U_\n    targets:\n      - name: t\n        plan: a\n        policy: b\n",
         ["fleet.yaml:5: target t: both plan: and policy:"]),
        ("users:\n  - name: u\n    env_prefix: U_\n    targets:\n      - name: t\n        plan: '-'\n",
         ["fleet.yaml:6: target t: plan must name a file"]),
        ("users:\n  - name: u\n    name: v\n", ["fleet.yaml:3: key 'name' appears twice"]),
        ("users:\n  - name: [u\n", ["fleet.yaml:", "not valid YAML"]),
    ],
    ids=["empty", "not-mapping", "no-users", "users-empty", "no-targets", "no-prefix", "no-name", "bad-prefix",
         "bad-name", "no-input", "two-inputs", "stdin-plan", "key-twice", "syntax"],
)
def test_faults_of_the_files_shape_name_their_line(load: Load, text: str, words: list[str]) -> None:
    """The file's shape is checked key by key; each fault names its line (and user or target)."""
    message = refused(load, text)
    for word in words:
        assert word in message


def test_the_file_is_checked_for_every_user_whoever_the_run_serves(load: Load) -> None:
    """A fault in another user's part of the file stops a shard too: every shard agrees on the file."""
    text = edit(f"        project_id: {PROJECT_B}\n", f"        project_id: {PROJECT_B}\n        colour: red\n")
    assert "fleet.yaml:22: target b-prod: unknown key 'colour'" in refused(load, text, shard=0)


def test_an_empty_prefix_is_allowed_once(load: Load) -> None:
    """``env_prefix: ""`` reads the usual variables."""
    text = edit("    env_prefix: ACCT_A_\n", '    env_prefix: ""\n')
    fleet = load(text, env={"CSBS_AUTH_TOKEN": "t", "ACCT_B_CSBS_AUTH_TOKEN": "u"})
    assert isinstance(fleet.users[0].targets[0].settings.credentials, TokenCredentials)


def test_a_fleet_error_is_a_settings_error(load: Load) -> None:
    """Faults of the file itself are SettingsErrors, as the config file's are."""
    with pytest.raises(SettingsError):
        load(edit("  task_timeout: 600\n", "  task_timeout: 0\n"))
