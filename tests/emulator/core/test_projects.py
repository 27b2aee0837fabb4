"""Many projects behind one endpoint, the same on both faces: each served project sees only its own backups;
a forbidden project and one not served are refused; a password sign-in acts in the project it is scoped to."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.helpers import PROJECT, FakeClock
from tests.emulator.sides import Side
from worker.emulator import IamUser
from worker.emulator.registry import FACES

OTHER = "1" * 32  # served beside PROJECT
FORBIDDEN = "2" * 32  # known, but no permission there
UNKNOWN = "3" * 32  # not served at all
ALICE = IamUser(name="alice", password="wonderland", domain="acme")


def sign_in_body(project: str) -> dict[str, Any]:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": ALICE.name, "password": ALICE.password, "domain": {"name": ALICE.domain}}}},
        "scope": {"project": {"id": project}}}}


def ids(answer: Any, side: Side) -> list[str]:
    return sorted(backup["id"] for backup in answer.body[side.keys[0]])


async def test_each_served_project_lists_reads_and_deletes_only_its_own_backups(side: Side, clock: FakeClock) -> None:
    """Two projects on one emulator: a listing shows the project's backups only; another project's backup is
    404 to GET and DELETE there, and its own project's path deletes it."""
    emu = side.emulator(clock, projects=frozenset({OTHER}), delete_duration_s=(10, 10))
    mine = side.backups(emu, 2)
    theirs = side.backups(emu, 3, OTHER, first=10)
    async with side.cloud(emu) as c:
        other = c.in_project(OTHER)
        listed = (ids(await c.list_backups(), side), ids(await other.list_backups(), side))
        crossed = [(await c.get_backup(theirs[0].id)).status, (await c.delete_backup(theirs[0])).status]
        deleted = (await other.delete_backup(theirs[0])).status
        statuses = [await other.status_of(theirs[0].id), await c.status_of(mine[0].id)]
    assert listed == (sorted(b.id for b in mine), sorted(b.id for b in theirs))
    assert crossed == [404, 404]
    assert 200 <= deleted < 300
    assert statuses == ["deleting", "available"]


async def test_a_forbidden_project_and_one_not_served_answer_403(side: Side, clock: FakeClock) -> None:
    """Every call in a forbidden project, and in a project the emulator does not serve, answers the face's 403."""
    emu = side.emulator(clock, forbidden_projects=frozenset({FORBIDDEN}))
    [backup] = side.backups(emu, 1)
    async with side.cloud(emu) as c:
        answers = [await c.in_project(FORBIDDEN).list_backups(), await c.in_project(FORBIDDEN).delete_backup(backup),
                   await c.in_project(UNKNOWN).list_backups(), await c.in_project(UNKNOWN).get_backup(backup.id)]
        served = await c.list_backups()
    assert [(a.status, a.body["error_code"]) for a in answers] == [(403, side.codes["403"])] * 4
    assert served.status == 200


async def test_a_password_sign_in_acts_in_the_project_it_is_scoped_to(side: Side, clock: FakeClock) -> None:
    """A sign-in may be scoped to any project the emulator knows (a forbidden one too, which then answers 403);
    its token acts there and not in the emulator's other projects; an unknown project is the sign-in's 401."""
    emu = side.emulator(clock, users=(ALICE,), projects=frozenset({OTHER}), forbidden_projects=frozenset({FORBIDDEN}))
    async with side.cloud(emu, token=None) as c:
        logins = {p: await c.call("POST", "/v3/auth/tokens", json=sign_in_body(p)) for p in (OTHER, FORBIDDEN, UNKNOWN)}

        async def listing(scope: str, project: str) -> int:
            token = logins[scope].headers["X-Subject-Token"]
            return (await c.in_project(project).list_backups(headers={"X-Auth-Token": token})).status

        reads = [await listing(OTHER, OTHER), await listing(OTHER, PROJECT), await listing(FORBIDDEN, FORBIDDEN)]
    assert [logins[p].status for p in (OTHER, FORBIDDEN, UNKNOWN)] == [201, 201, 401]
    assert reads == [200, 403, 403]


def test_seeding_a_project_not_served_is_refused(side: Side, clock: FakeClock) -> None:
    """Backups can only be added to a served project."""
    emu = side.emulator(clock, forbidden_projects=frozenset({FORBIDDEN}))
    for project in (FORBIDDEN, UNKNOWN):
        with pytest.raises(ValueError, match=f"project {project} is not served"):
            side.backups(emu, 1, project)


def test_a_scenario_reads_its_projects_and_the_command_seeds_each(side: Side) -> None:
    """``projects`` and ``forbidden_projects`` read as sets of ids (YAML numbers as text); the command's
    start seeds as many random backups in every served project."""
    scenario = side.scenario.from_mapping({"project_id": PROJECT, "projects": [OTHER, 42],
                                           "forbidden_projects": [FORBIDDEN]})
    assert scenario.projects == frozenset({OTHER, "42"})
    assert scenario.forbidden_projects == frozenset({FORBIDDEN})
    assert scenario.served_projects == frozenset({PROJECT, OTHER, "42"})
    emulator, holds = FACES[side.name].start(scenario, 1, 3)
    assert holds.endswith(f"; as many in each of {OTHER}, 42")
    per_project = [_backups(side, emulator, p) for p in sorted(scenario.served_projects)]
    assert all(per_project) and len({frozenset(found) for found in per_project}) == 3


def _backups(side: Side, emulator: Any, project: str) -> list[str]:
    """The ids of the backups of one project, read through the face's own test reader."""
    if side.name == "csbs":
        return [item["id"] for item in emulator.items(project=project)]
    return list(emulator.backup_ids(project=project))
