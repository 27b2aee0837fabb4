"""Fixtures of the fleet-file tests: a folder with a fleet file, its plans and its policy, and a loader."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.plan.samples import C1, C2, C3, PROJECT
from worker.fleet import Fleet, load_fleet
from worker.settings import load_settings

PROJECT_A_DEV = "fedcba9876543210fedcba9876543210"
PROJECT_B = "00112233445566778899aabbccddeeff"
CBR_BACKUP = "6df2b54c-dd62-4059-a07c-1b8f24f2725d"

# Line numbers matter: the tests name them.
FLEET = f"""\
defaults:
  task_timeout: 600
users:
  - name: acct-a
    env_prefix: ACCT_A_
    targets:
      - name: a-prod
        endpoint: https://csbs.eu-de.otc.t-systems.com
        project_id: {PROJECT}
        plan: plans/a.txt
      - name: a-dev
        service: cbr
        endpoint: https://cbr.eu-nl.otc.t-systems.com
        project_id: {PROJECT_A_DEV}
        policy: policies/dev.yaml
  - name: acct-b
    env_prefix: ACCT_B_
    targets:
      - name: b-prod
        endpoint: https://csbs.eu-de.otc.t-systems.com
        project_id: {PROJECT_B}
        plan: plans/b.yaml
"""
FILES = {
    "plans/a.txt": f"# a-prod\n{C1}\n{C2}\n",
    "plans/b.yaml": f"project_id: {PROJECT_B}\ndeletions:\n  - checkpoint_id: {C3}\n",
    "policies/dev.yaml": "keep:\n  last: 3\n",
}
TOKEN_A = "tok-a-SECRET-VALUE"
TOKEN_B = "tok-b-SECRET-VALUE"
SIGN_INS = {"ACCT_A_CSBS_AUTH_TOKEN": TOKEN_A, "ACCT_B_CSBS_AUTH_TOKEN": TOKEN_B}

Load = Callable[..., Fleet]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The fleet's folder, with its plans and policy written."""
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.fixture
def load(folder: Path) -> Load:
    """Write the fleet file (``FLEET`` unless given) and load it, by default with both users' tokens."""
    def run(text: str = FLEET, env: Mapping[str, str] = SIGN_INS, flags: Mapping[str, Any] | None = None,
            run_env: Mapping[str, str] | None = None, **options: Any) -> Fleet:
        """``flags`` and ``run_env`` make the run's own settings (``load_settings``), ``env`` the sign-ins."""
        path = folder / "fleet.yaml"
        path.write_text(text, encoding="utf-8")
        return load_fleet(str(path), load_settings(dict(flags or {}), dict(run_env or {})), env, **options)
    return run


def edit(old: str, new: str, text: str = FLEET) -> str:
    """The fleet file with one exact piece replaced (it must be there once)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)
