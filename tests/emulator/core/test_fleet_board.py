"""A fleet of emulators on one task board (``worker.emulator.fleet``), over real loopback HTTP: one user's
deletions run at most five at once over its projects on both services, the rest wait; another user's run
beside them; a project no site serves, and a refused one, answer 403; listings keep to their project."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import aiohttp
import pytest

from tests.emulator.helpers import FakeClock
from tests.emulator.sides import CBR, CSBS, Seeded, SideCloud
from worker.emulator.fleet import FleetCloud, FleetSite, serve_fleet, sites_of

P1, P2, P3 = "a1" * 16, "b2" * 16, "c3" * 16  # P1, P2 on the CSBS endpoint, P3 on the CBR one
NOWHERE = "d4" * 16  # served by no site
EU_DE = "https://csbs.eu-de.example.com"
EU_NL = "https://csbs.eu-nl.example.com"
CBR_DE = "https://cbr.eu-de.example.com"
SIDE = {"csbs": CSBS, "cbr": CBR}


@contextlib.asynccontextmanager
async def calls(cloud: FleetCloud, sites: Sequence[FleetSite],
                user: str) -> AsyncIterator[dict[tuple[str, str, str], SideCloud]]:
    """``user``'s calls at every (service, endpoint, project) of the fleet and at NOWHERE, with its token."""
    async with aiohttp.ClientSession() as session:
        yield {(site.service, site.endpoint, project):
               SideCloud(SIDE[site.service], cloud.url(site.service, site.endpoint), session,
                         {"X-Auth-Token": cloud.token(user)}, project)
               for site in sites for project in (*site.projects, *site.refused, NOWHERE)}


def seed(cloud: FleetCloud, service: str, endpoint: str, project: str, n: int, first: int) -> list[Seeded]:
    """``n`` deletable backups with fixed ids (numbered from ``first``) in one project of a site."""
    return SIDE[service].backups(cloud.emulator(service, endpoint), n, project, first)


@pytest.fixture
def sites() -> Sequence[FleetSite]:
    """Two CSBS projects on one endpoint, one CBR project, and a second CSBS region that refuses P2."""
    return (*sites_of([("csbs", EU_DE, P1), ("csbs", EU_DE, P2), ("cbr", CBR_DE, P3), ("csbs", EU_DE, P1)]),
            FleetSite("csbs", EU_NL, (P1,), refused=(P2,)))


async def test_one_users_deletions_run_five_at_once_over_its_projects_on_both_services(
        sites: Sequence[FleetSite], clock: FakeClock) -> None:
    """Alice deletes two backups in each of three projects (two CSBS, one CBR): five run, the sixth waits and
    starts the instant a slot frees, wherever it is; the board's high-water mark reads 5 over all three
    projects before the sixth; Bob's deletion runs beside hers at once."""
    assert sites[0] == FleetSite("csbs", EU_DE, (P1, P2))
    async with serve_fleet(sites, ["alice", "bob"], clock=clock,
                           scenario={"delete_duration_s": (10, 10)}) as cloud:
        alice = [*seed(cloud, "csbs", EU_DE, P1, 2, 0), *seed(cloud, "csbs", EU_DE, P2, 2, 10),
                 *seed(cloud, "cbr", CBR_DE, P3, 2, 20)]
        where = [("csbs", EU_DE, P1)] * 2 + [("csbs", EU_DE, P2)] * 2 + [("cbr", CBR_DE, P3)] * 2
        [bobs] = seed(cloud, "csbs", EU_DE, P1, 1, 30)
        start = clock.now
        async with calls(cloud, sites, "alice") as at, calls(cloud, sites, "bob") as bob_at:
            answers = [(await at[w].delete_backup(b)).status for w, b in zip(where[:5], alice[:5], strict=True)]
            high_water_of_five = cloud.outstanding_high_water("alice")
            clock.advance(1)
            answers.append((await at[where[5]].delete_backup(alice[5])).status)
            answers.append((await bob_at[("csbs", EU_DE, P1)].delete_backup(bobs)).status)
            queued = [await at[w].status_of(b.id) for w, b in zip(where, alice, strict=True)]
            bob_runs = await bob_at[("csbs", EU_DE, P1)].status_of(bobs.id)
            outstanding = (cloud.outstanding("alice"), cloud.outstanding("bob"))
            clock.advance(9.5)  # t = 10.5: the first five ended at 10, the sixth runs since 10
            later = [await at[w].status_of(b.id) for w, b in zip(where, alice, strict=True)]
            clock.advance(10)
            last = await at[where[5]].status_of(alice[5].id)
        assert all(200 <= status < 300 for status in answers)
        assert high_water_of_five == 5
        assert queued == ["deleting"] * 5 + ["waiting_delete"]
        assert bob_runs == "deleting"
        assert outstanding == (6, 1)
        assert later == [404] * 5 + ["deleting"]
        assert last == 404
        assert (cloud.outstanding_high_water("alice"), cloud.outstanding_high_water("bob")) == (6, 1)
        assert cloud.outstanding("alice") == 0
        csbs, cbr = cloud.emulator("csbs", EU_DE).stats, cloud.emulator("cbr", CBR_DE).stats
        assert (csbs.tasks_finished, cbr.tasks_finished) == (5, 2)  # each site counts its own tasks
        assert csbs.max_outstanding == cbr.max_outstanding == {"alice": 6, "bob": 1}  # the board's, shared
        assert (cbr.first_task_start, cbr.last_task_end) == (start, start + 20)  # the sixth ran from 10 to 20
        # per user over every site: Alice's six ran 10 s each, Bob's one too (a pool's utilization needs these)
        assert (cloud.board.ended_by_user, cloud.board.running_s_by_user) == ({"alice": 6, "bob": 1},
                                                                                {"alice": 60.0, "bob": 10.0})


async def test_two_regions_of_one_service_share_the_users_five_slots(sites: Sequence[FleetSite],
                                                                    clock: FakeClock) -> None:
    """Three deletions in each of two CSBS regions: the user's sixth waits, whichever region it is in."""
    async with serve_fleet(sites, ["alice"], clock=clock, scenario={"delete_duration_s": (10, 10)}) as cloud:
        de, nl = seed(cloud, "csbs", EU_DE, P1, 3, 0), seed(cloud, "csbs", EU_NL, P1, 3, 0)  # the same ids
        async with calls(cloud, sites, "alice") as at:
            for region, backups in ((EU_DE, de), (EU_NL, nl)):
                for backup in backups:
                    await at[("csbs", region, P1)].delete_backup(backup)
            shown = [await at[("csbs", EU_DE, P1)].status_of(b.id) for b in de]
            shown += [await at[("csbs", EU_NL, P1)].status_of(b.id) for b in nl]
    assert shown == ["deleting"] * 5 + ["waiting_delete"]


async def test_a_project_no_site_serves_and_a_refused_one_answer_403(sites: Sequence[FleetSite],
                                                                    clock: FakeClock) -> None:
    """A project no site serves answers each face's 403, and so does a site's refused project (no permission
    there), though another site serves the same project."""
    async with serve_fleet(sites, ["alice"], clock=clock) as cloud, calls(cloud, sites, "alice") as at:
        refused = [await at[where].list_backups() for where in
                   [("csbs", EU_DE, NOWHERE), ("cbr", CBR_DE, NOWHERE), ("csbs", EU_NL, P2)]]
        served = [(await at[where].list_backups()).status for where in
                  [("csbs", EU_DE, P1), ("csbs", EU_DE, P2), ("cbr", CBR_DE, P3), ("csbs", EU_NL, P1)]]
    assert [(a.status, a.body["error_code"]) for a in refused] == [
        (403, CSBS.codes["403"]), (403, CBR.codes["403"]), (403, CSBS.codes["403"])]
    assert served == [200] * 4


async def test_a_listing_shows_only_its_projects_backups(sites: Sequence[FleetSite], clock: FakeClock) -> None:
    """Backups seeded in one project (of a site, or of another site) never show in another's listing, and
    every site draws its own random backups."""
    async with serve_fleet(sites, ["alice"], clock=clock) as cloud:
        one, two = seed(cloud, "csbs", EU_DE, P1, 2, 0), seed(cloud, "csbs", EU_DE, P2, 3, 10)
        cloud.seed_random("csbs", EU_NL, P1, 4)
        cloud.seed_tasks("cbr", CBR_DE, P3, [("", "00000000-0000-4000-8000-000000000099")])
        async with calls(cloud, sites, "alice") as at:
            listed = {where: {b["id"] for b in (await at[where].list_backups()).body[SIDE[where[0]].keys[0]]}
                      for where in [("csbs", EU_DE, P1), ("csbs", EU_DE, P2), ("csbs", EU_NL, P1), ("cbr", CBR_DE, P3)]}
    assert listed[("csbs", EU_DE, P1)] == {b.id for b in one}
    assert listed[("csbs", EU_DE, P2)] == {b.id for b in two}
    assert len(listed[("csbs", EU_NL, P1)]) >= 4 and not listed[("csbs", EU_NL, P1)] & listed[("csbs", EU_DE, P1)]
    assert "00000000-0000-4000-8000-000000000099" in listed[("cbr", CBR_DE, P3)]


async def test_tokens_are_the_fleets_own_and_a_site_is_named_once(clock: FakeClock) -> None:
    """Every user gets a fresh token of its own; a site given twice, or without a project, is refused."""
    site = FleetSite("cbr", CBR_DE, (P3,))
    async with serve_fleet([site], ["alice", "bob"], clock=clock) as cloud:
        tokens = {cloud.token("alice"), cloud.token("bob")}
        with pytest.raises(KeyError, match="carol"):
            cloud.token("carol")
        with pytest.raises(KeyError, match="no csbs site"):
            cloud.url("csbs", CBR_DE)
    assert len(tokens) == 2
    with pytest.raises(ValueError, match="given twice"):
        async with serve_fleet([site, site], ["alice"], clock=clock):
            pass
    with pytest.raises(ValueError, match="has no project"):
        async with serve_fleet([FleetSite("csbs", EU_DE, ())], ["alice"], clock=clock):
            pass


def test_sites_of_targets_group_projects_by_service_and_endpoint() -> None:
    """One site per distinct (service, endpoint), its projects once each, in the order first named."""
    assert sites_of([("csbs", EU_DE, P2), ("cbr", EU_DE, P2), ("csbs", EU_DE, P1), ("csbs", EU_DE, P2)]) == [
        FleetSite("csbs", EU_DE, (P2, P1)), FleetSite("cbr", EU_DE, (P2,))]
