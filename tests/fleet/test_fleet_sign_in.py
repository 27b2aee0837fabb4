"""Each fleet user's sign-in: exactly one method from the variables behind its env_prefix, faults naming the
user and the prefixed variables, and never a secret's value."""

from __future__ import annotations

import pytest

from tests.fleet.conftest import SIGN_INS, TOKEN_A, TOKEN_B, Load
from worker.errors import SettingsError
from worker.settings import AkSkCredentials, PasswordCredentials, TokenCredentials

SECRET = "s3cret-VALUE-never-shown"


def refused(load: Load, env: dict[str, str], **options: object) -> str:
    with pytest.raises(SettingsError) as raised:
        load(env={"ACCT_B_CSBS_AUTH_TOKEN": TOKEN_B, **env}, **options)
    message = str(raised.value)
    assert SECRET not in message and TOKEN_B not in message
    return message


def test_each_method_behind_the_prefix(load: Load) -> None:
    """A token, an AK/SK pair (with a security token) and a password login, each read behind the prefix, and
    the password login's IAM endpoint, user and domain from the prefixed variables too."""
    fleet = load(env={"ACCT_A_HUAWEICLOUD_SDK_AK": "ak", "ACCT_A_HUAWEICLOUD_SDK_SK": SECRET,
                      "ACCT_A_HUAWEICLOUD_SDK_SECURITY_TOKEN": "st", "ACCT_B_CSBS_AUTH_TOKEN": TOKEN_B})
    aksk = fleet.users[0].targets[0].settings.credentials
    assert isinstance(aksk, AkSkCredentials) and aksk.sk.reveal() == SECRET and aksk.security_token is not None
    token = fleet.users[1].targets[0].settings.credentials
    assert isinstance(token, TokenCredentials) and token.token.reveal() == TOKEN_B
    fleet = load(env={"ACCT_A_CSBS_PASSWORD": SECRET, "ACCT_A_CSBS_IAM_ENDPOINT": "https://iam.eu-de.example/v3",
                      "ACCT_A_CSBS_USERNAME": "robot", "ACCT_A_CSBS_DOMAIN_NAME": "acct-a-domain",
                      "ACCT_B_CSBS_AUTH_TOKEN": TOKEN_B}, user="acct-a")
    for target in fleet.users[0].targets:
        login = target.settings.credentials
        assert isinstance(login, PasswordCredentials)
        assert (login.iam_endpoint, login.username, login.domain_name) == (
            "https://iam.eu-de.example/v3", "robot", "acct-a-domain")
        assert login.password.reveal() == SECRET and target.settings.username == "robot"


def test_the_runs_own_sign_in_is_no_users(load: Load) -> None:
    """The unprefixed variables (and the run's password-login settings) do not sign a prefixed user in."""
    message = refused(load, {"CSBS_AUTH_TOKEN": SECRET}, flags={"iam_endpoint": "https://iam.x", "username": "u"})
    assert "fleet.yaml:4: user acct-a: no sign-in method is set" in message
    fleet = load(flags={"iam_endpoint": "https://iam.x", "username": "u", "domain_name": "d"})
    settings = fleet.users[0].targets[0].settings
    assert (settings.iam_endpoint, settings.username, settings.domain_name) == (None, None, None)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({}, ["fleet.yaml:4: user acct-a: no sign-in method is set", "ACCT_A_HUAWEICLOUD_SDK_AK",
              "ACCT_A_CSBS_AUTH_TOKEN", "ACCT_A_CSBS_PASSWORD", "ACCT_A_CSBS_IAM_ENDPOINT"]),
        ({"ACCT_A_CSBS_AUTH_TOKEN": SECRET, "ACCT_A_HUAWEICLOUD_SDK_AK": SECRET},
         ["user acct-a: several sign-in methods are set", "ACCT_A_HUAWEICLOUD_SDK_AK", "ACCT_A_CSBS_AUTH_TOKEN"]),
        ({"ACCT_A_HUAWEICLOUD_SDK_AK": SECRET}, ["user acct-a: AK/SK signing needs",
                                                 "ACCT_A_HUAWEICLOUD_SDK_SK is not set"]),
        ({"ACCT_A_CSBS_PASSWORD": SECRET, "ACCT_A_CSBS_IAM_ENDPOINT": "https://iam.x"},
         ["user acct-a: password login needs ACCT_A_CSBS_USERNAME, ACCT_A_CSBS_DOMAIN_NAME"]),
        ({"ACCT_A_CSBS_PASSWORD": SECRET, "ACCT_A_CSBS_IAM_ENDPOINT": "http://iam.example", "ACCT_A_CSBS_USERNAME": "u",
          "ACCT_A_CSBS_DOMAIN_NAME": "d"}, ["user acct-a: ACCT_A_CSBS_IAM_ENDPOINT: bad iam_endpoint", "https://"]),
    ],
    ids=["none", "two", "ak-without-sk", "password-half", "plain-http-iam"],
)
def test_sign_in_faults_name_the_user_and_its_variables(load: Load, env: dict[str, str], words: list[str]) -> None:
    """A missing, double or half sign-in is exit 2 naming the user and the prefixed variables, no value."""
    message = refused(load, env)
    assert "config file" not in message  # a fleet user's sign-in is its variables alone
    for word in words:
        assert word in message


def test_the_emulator_needs_no_sign_in(load: Load) -> None:
    """Against the embedded emulator no sign-in variable is read (it hands out its own token)."""
    fleet = load(env={}, emulator=True)
    assert all(target.settings.credentials is None for user in fleet.users for target in user.targets)


def test_secrets_never_show_in_the_loaded_fleet(load: Load) -> None:
    """The fleet, its users, targets and settings show their secrets as ``***``."""
    fleet = load(env={**SIGN_INS, "ACCT_A_CSBS_AUTH_TOKEN": SECRET})
    shown = repr(fleet) + str(fleet) + " ".join(fleet.warnings)
    assert SECRET not in shown and TOKEN_A not in shown and TOKEN_B not in shown
