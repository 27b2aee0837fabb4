"""A fleet user's sign-in, from the environment variables behind its ``env_prefix``.

The rules are the one-project run's (``worker.settings.load_credentials``: exactly one method), read with
the prefix in front of every name: ``ACCT_A_HUAWEICLOUD_SDK_AK`` and ``ACCT_A_HUAWEICLOUD_SDK_SK`` (and
``ACCT_A_HUAWEICLOUD_SDK_SECURITY_TOKEN``), or ``ACCT_A_CSBS_AUTH_TOKEN``, or ``ACCT_A_CSBS_PASSWORD``
with ``ACCT_A_CSBS_IAM_ENDPOINT``, ``ACCT_A_CSBS_USERNAME`` and ``ACCT_A_CSBS_DOMAIN_NAME``. Messages name
those variables and the user, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from worker.errors import SettingsError
from worker.fleet.levels import SIGN_IN, SPECS, parse_value
from worker.settings import Credentials, Settings, load_credentials


@dataclass(frozen=True)
class SignIn:
    """What a user's targets sign in with: the settings' password-login fields and the credentials."""

    iam_endpoint: str | None
    username: str | None
    domain_name: str | None
    credentials: Credentials | None

    def fields(self) -> dict[str, Any]:
        """The Settings attributes this sets."""
        return {"iam_endpoint": self.iam_endpoint, "username": self.username, "domain_name": self.domain_name,
                "credentials": self.credentials}


EMULATED: Final = SignIn(None, None, None, None)
"""The sign-in of a run against the embedded emulator, which hands out its own token."""


def sign_in(base: Settings, prefix: str, env: Mapping[str, str], who: str) -> SignIn:
    """Exactly one sign-in method from the variables behind ``prefix``; ``who`` ("fleet.yaml:4: user acct-a")
    starts every error message."""
    try:
        login = {key: _variable(key, prefix, env) for key in SIGN_IN}
        credentials = load_credentials(replace(base, **login), env, prefix=prefix)
    except SettingsError as error:
        raise SettingsError(f"{who}: {error}") from None
    return SignIn(**login, credentials=credentials)


def _variable(key: str, prefix: str, env: Mapping[str, str]) -> Any:
    """A password-login setting from its prefixed variable (``ACCT_A_CSBS_IAM_ENDPOINT``), None when unset."""
    name = prefix + SPECS[key].env
    raw = env.get(name)
    return parse_value(key, raw, name) if raw else None
