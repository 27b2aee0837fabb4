"""A bad setting echoes its value cut short, as plans and policies do (worker.settings ``parse_setting``)."""

from __future__ import annotations

import pytest

from worker.errors import SettingsError
from worker.settings import load_settings

HUGE = 5_000_000


@pytest.mark.parametrize(
    ("key", "value"),
    [("concurrency", "9x" * (HUGE // 2)), ("task_timeout", "a" * HUGE), ("service", "c" * HUGE)],
    ids=["int", "float", "choice"],
)
def test_a_huge_bad_flag_value_is_cut_in_the_message(key: str, value: str) -> None:
    """A 5 MB value comes back as its first characters and its length, never whole (nor in the reason)."""
    with pytest.raises(SettingsError) as caught:
        load_settings({key: value}, env={})
    message = str(caught.value)
    assert f"bad {key} " in message and f"({HUGE} characters)" in message
    assert len(message) < 500


def test_a_huge_bad_environment_value_is_cut_too() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({}, env={"CSBS_MAX_RPS": "z" * HUGE})
    assert f"({HUGE} characters)" in str(caught.value) and len(str(caught.value)) < 500


def test_a_short_bad_value_is_shown_whole() -> None:
    with pytest.raises(SettingsError, match=r"bad concurrency 'lots': "):
        load_settings({"concurrency": "lots"}, env={})
