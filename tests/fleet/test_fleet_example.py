"""config/fleet.example.yaml, the zero-setup demo, loads as its comments say."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.fleet import Fleet, load_fleet
from worker.settings import AkSkCredentials, TokenCredentials, load_settings

EXAMPLE = str(Path(__file__).resolve().parents[2] / "config" / "fleet.example.yaml")


def shape(fleet: Fleet) -> list[tuple[str, str, str, str]]:
    return [(user.name, target.name, target.settings.service, "plan" if target.plan is not None else "policy")
            for user in fleet.users for target in user.targets]


def test_the_example_loads_against_the_emulator() -> None:
    """Two users, three targets, both services, from a policy and from plans, without any sign-in."""
    fleet = load_fleet(EXAMPLE, load_settings({}, {}), {}, emulator=True)
    assert shape(fleet) == [("acct-a", "a-prod-eu-de", "csbs", "policy"), ("acct-a", "a-dev-eu-nl", "cbr", "plan"),
                            ("acct-b", "b-prod-eu-de", "csbs", "plan")]
    assert [(user.concurrency, user.max_rps) for user in fleet.users] == [(5, 10.0), (3, 5.0)]
    a_prod, a_dev = fleet.users[0].targets
    assert (a_prod.settings.task_timeout_s, a_dev.settings.task_timeout_s) == (1800.0, 900.0)
    assert fleet.warnings == ()


@pytest.mark.parametrize("shard", [0, 1])
def test_the_example_loads_with_a_sign_in_per_user(shard: int) -> None:
    """Each shard signs its own user in from the variables behind its prefix."""
    env = {"ACCT_A_CSBS_AUTH_TOKEN": "fake-token", "ACCT_B_HUAWEICLOUD_SDK_AK": "fake-ak",
           "ACCT_B_HUAWEICLOUD_SDK_SK": "fake-sk"}
    (user,) = load_fleet(EXAMPLE, load_settings({}, {}), env, shard=shard).users
    kind = (TokenCredentials, AkSkCredentials)[shard]
    assert all(isinstance(target.settings.credentials, kind) for target in user.targets)
