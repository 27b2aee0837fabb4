"""``fleet --emulator``'s embedded fleet (``worker.demo.embedded_fleet``): one emulator per (service, endpoint)
of the targets on loopback, on one board, each project seeded with its plans' backups (a plan object or its
(container, backup) pairs) or with random ones for a policy target; a fresh token per user, accepted at every
site."""

from __future__ import annotations

import io

import aiohttp
import pytest

from worker.demo import DEMO_DELETE_DURATION_S, DEMO_RANDOM_BACKUPS, FleetTarget, embedded_fleet
from worker.errors import UsageError
from worker.plan import read_plan

P1, P2 = "a1" * 16, "b2" * 16
RECORD, ITEM, OTHER_ITEM = ("00000000-0000-4000-8000-00000000000" + d for d in "123")
BACKUP = "00000000-0000-4000-8000-000000000009"
CSBS_EP, CBR_EP = "https://csbs.eu-de.example.com", "https://cbr.eu-de.example.com"


async def test_the_embedded_fleet_seeds_every_target_and_accepts_each_users_token() -> None:
    """Alice's plan (read from a file) and Bob's pairs land in their CSBS projects, a CBR policy target finds
    random backups; the sites listen apart, and each user's token lists at each of them."""
    plan = read_plan(["-"], stdin=io.StringIO(f"deletions:\n  - checkpoint_id: {RECORD}\n"
                                              f"    checkpoint_items: [{ITEM}]\n"))
    targets: list[FleetTarget] = [
        ("alice", "csbs", CSBS_EP, P1, plan), ("bob", "csbs", CSBS_EP, P2, [(RECORD, OTHER_ITEM)]),
        ("bob", "cbr", CBR_EP, P1, None), ("alice", "cbr", CBR_EP, P1, None),
    ]
    async with embedded_fleet(targets) as cloud, aiohttp.ClientSession() as session:
        csbs, cbr = cloud.emulator("csbs", CSBS_EP), cloud.emulator("cbr", CBR_EP)
        urls = {cloud.url("csbs", CSBS_EP), cloud.url("cbr", CBR_EP)}
        statuses = []
        for user in ("alice", "bob"):
            for path in (f"{cloud.url('csbs', CSBS_EP)}/v1/{P2}/checkpoint_items",
                         f"{cloud.url('cbr', CBR_EP)}/v3/{P1}/backups"):
                async with session.get(path, headers={"X-Auth-Token": cloud.token(user)}) as answer:
                    statuses.append(answer.status)
    assert len(urls) == 2 and all(url.startswith("http://127.0.0.1:") for url in urls)
    assert cloud.token("alice") != cloud.token("bob")
    assert statuses == [200] * 4
    assert [item["id"] for item in csbs.items(project=P1)] == [ITEM]
    assert [item["id"] for item in csbs.items(project=P2)] == [OTHER_ITEM]
    assert len(cbr.backup_ids(project=P1)) == 2 * DEMO_RANDOM_BACKUPS  # once, each with its disk backup
    assert csbs.scenario.delete_duration_s == cbr.scenario.delete_duration_s == DEMO_DELETE_DURATION_S
    assert csbs.board is cbr.board


async def test_plans_the_fleet_cannot_hold_are_a_usage_error() -> None:
    """One backup id planned in two records of one CSBS project cannot be seeded: a usage error, not a crash."""
    targets: list[FleetTarget] = [("alice", "csbs", CSBS_EP, P1, [(RECORD, ITEM)]),
                                  ("bob", "csbs", CSBS_EP, P1, [(BACKUP, ITEM)])]
    with pytest.raises(UsageError, match=f"backup {ITEM} already exists"):
        async with embedded_fleet(targets):
            pass
