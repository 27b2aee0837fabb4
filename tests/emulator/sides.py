"""Each API face as the tests of the core drive it: the same questions, in each face's own routes and codes.

A test of ``core/`` takes the ``side`` fixture and runs once per face: it makes an emulator of that face
for the test project, seeds deletable backups with fixed ids, and calls the face's routes by what they
do (list, get, delete), reading the answers through the face's own shapes.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.emulator.cbr.conftest import TOKEN as CBR_TOKEN
from tests.emulator.csbs.conftest import TOKEN as CSBS_TOKEN
from tests.emulator.helpers import PROJECT, USER, Answer, HttpCloud, served
from worker.emulator import Emulator, FaultRule, Scenario
from worker.emulator.cbr import CbrEmulator, CbrFaultRule, CbrScenario
from worker.emulator.csbs import CSBS_PROVIDER_ID


@dataclass(frozen=True)
class Seeded:
    """A deletable backup: its id, and the record (checkpoint) a CSBS DELETE names."""

    id: str
    checkpoint_id: str


@dataclass(frozen=True)
class Side:
    """One face: how to make and seed its emulator, and its names, paths and codes for what both share.

    Args:
        name: the face's ``--service`` name.
        scenario: its scenario class.
        rule: its fault rule class.
        routes: ``list``, ``get``, ``delete`` -> the face's route names (for fault rules and stats).
        codes: a fault kind -> the error code it answers with.
        per_user: the scenario field of the per-user limit of running deletions.
        token: the static token of the test scenario (user ``USER``).
        make: (scenario, seed, clock) -> the face's emulator.
        seed: (emulator, ids, project or None) -> one deletable backup per id, in that project.
        list_path: the path of the backup listing; one backup's is below it.
        keys: the body keys of the listing and of one backup.
        delete_path: the path of a DELETE of one seeded backup.
    """

    name: str
    scenario: Any
    rule: Callable[..., Any]
    routes: Mapping[str, str]
    codes: Mapping[str, str]
    per_user: str
    token: str
    make: Callable[[Any, int, Any], Any]
    seed: Callable[[Any, list[str], str | None], list[Seeded]]
    list_path: str
    keys: tuple[str, str]
    delete_path: Callable[[Seeded], str]

    def __repr__(self) -> str:
        return self.name

    def emulator(self, clock: Any, *, seed: int = 0, **fields: Any) -> Any:
        """An emulator of this face for PROJECT, with the static token ``token`` of USER unless ``tokens``."""
        fields.setdefault("tokens", {self.token: USER})
        return self.make(self.scenario(project_id=PROJECT, **fields), seed, clock)

    def backups(self, emulator: Any, n: int, project: str | None = None, first: int = 0) -> list[Seeded]:
        """``n`` deletable backups with fixed ids (numbered from ``first``), in ``project`` (None: PROJECT)."""
        return self.seed(emulator, [f"00000000-0000-4000-8000-{k:012d}" for k in range(first, first + n)], project)

    def cloud(self, emulator: Any, token: str | None = "") -> contextlib.AbstractAsyncContextManager[SideCloud]:
        """Serve ``emulator`` and yield its calls, sending ``token`` (the face's test token by default)."""
        return _served(emulator, self, self.token if token == "" else token)


class SideCloud(HttpCloud):
    """The calls every face has, by what they do, in one face's paths and shapes, in one project
    (PROJECT unless ``project``)."""

    def __init__(self, side: Side, base: str, session: aiohttp.ClientSession, headers: dict[str, str],
                 project: str = PROJECT) -> None:
        super().__init__(base, session, headers)
        self.side = side
        self.project = project

    def in_project(self, project: str) -> SideCloud:
        """The same calls, on the same server and session, in another project's paths."""
        return SideCloud(self.side, self.base, self.session, self.headers, project)

    async def list_backups(self, **kw: Any) -> Answer:
        return await self.call("GET", self._in_project(self.side.list_path), **kw)

    async def get_backup(self, backup_id: str) -> Answer:
        return await self.call("GET", self._in_project(f"{self.side.list_path}/{backup_id}"))

    async def delete_backup(self, backup: Seeded, **kw: Any) -> Answer:
        return await self.call("DELETE", self._in_project(self.side.delete_path(backup)), **kw)

    def _in_project(self, path: str) -> str:
        return path.replace(PROJECT, self.project, 1)

    async def status_of(self, backup_id: str) -> str | int:
        """The backup's status, or the HTTP status when there is no backup to show."""
        answer = await self.get_backup(backup_id)
        return str(answer.body[self.side.keys[1]]["status"]) if answer.status == 200 else answer.status

    async def progress_of(self, backup_id: str, listed: bool = False) -> int:
        """``extend_info.progress`` of the backup, read by GET or from the listing."""
        many, one = self.side.keys
        if listed:
            shown = next(b for b in (await self.list_backups()).body[many] if b["id"] == backup_id)
        else:
            shown = (await self.get_backup(backup_id)).body[one]
        return int(shown["extend_info"]["progress"])


@contextlib.asynccontextmanager
async def _served(emulator: Any, side: Side, token: str | None) -> AsyncIterator[SideCloud]:
    async with served(emulator, functools.partial(SideCloud, side), token) as c:
        yield c


def _csbs_seed(emulator: Emulator, ids: list[str], project: str | None = None) -> list[Seeded]:
    records = emulator.seed_plan([("c" + backup_id[1:], [backup_id]) for backup_id in ids], project)  # a record each
    return [Seeded(items[0], checkpoint) for checkpoint, items in records]


def _cbr_seed(emulator: CbrEmulator, ids: list[str], project: str | None = None) -> list[Seeded]:
    return [Seeded(str(emulator.add_backup(backup_id=backup_id, project=project)["id"]), "") for backup_id in ids]


CSBS = Side(
    name="csbs", scenario=Scenario, rule=FaultRule, routes={"list": "list", "get": "get_item", "delete": "delete"},
    codes={"429": "APIG.0308", "500": "CSBS.9999", "503": "APIG.0201", "401": "APIG.0301", "403": "APIG.0302"},
    per_user="tasks_per_user", token=CSBS_TOKEN,
    make=lambda scenario, seed, clock: Emulator(scenario, seed=seed, clock=clock), seed=_csbs_seed,
    list_path=f"/v1/{PROJECT}/checkpoint_items", keys=("checkpoint_items", "checkpoint_item"),
    delete_path=lambda b: f"/v1/{PROJECT}/providers/{CSBS_PROVIDER_ID}/checkpoints/{b.checkpoint_id}"
                          f"?checkpoint_items={b.id}",
)
CBR = Side(
    name="cbr", scenario=CbrScenario, rule=CbrFaultRule,
    routes={"list": "list_backups", "get": "get_backup", "delete": "delete"},
    codes={"429": "APIG.0308", "500": "BackupService.9910", "503": "APIG.0201", "401": "APIGW.0301",
           "403": "BackupService.8600"},
    per_user="deletions_per_user", token=CBR_TOKEN,
    make=lambda scenario, seed, clock: CbrEmulator(scenario, seed=seed, clock=clock), seed=_cbr_seed,
    list_path=f"/v3/{PROJECT}/backups", keys=("backups", "backup"),
    delete_path=lambda b: f"/v3/{PROJECT}/backups/{b.id}",
)
SIDES = (CSBS, CBR)
