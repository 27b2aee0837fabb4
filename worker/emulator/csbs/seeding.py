"""Plausible backups from a seeded random generator: records of 1-3 server backups spread over months.

A policy backs up several servers at once, so a record holds one backup per server; most records come
from a few policies (``autobk_...``), some are manual (``manualbk_...``). Servers recur across records,
as they do in a real project, so retention rules have something to keep.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from worker.emulator.csbs.model import Item

_ROLES = ("web", "db", "app", "cache", "batch", "build", "mail", "proxy", "mq", "search")
_ZONES = ("eu-de-01", "eu-de-02", "eu-de-03")
_ENVS = ("prod", "staging", "dev")
SPREAD_DAYS = 180.0


class BackupFactory:
    """Makes ids and backups from one seeded generator.

    Args:
        rng: the seeded generator (the same seed gives the same backups).
        now: wall time the backups are older than.
        servers: how many servers the backups are spread over.
    """

    def __init__(self, rng: random.Random, now: datetime, servers: int = 12) -> None:
        self._rng = rng
        self._now = now
        self._policies = [self.uuid() for _ in range(3)]
        self._servers = [self._server(n) for n in range(max(1, servers))]

    def uuid(self) -> str:
        """A version-4 UUID drawn from the seeded generator."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def record(self, checkpoint_id: str | None = None, item_ids: Sequence[str] | None = None) -> list[Item]:
        """One backup record: the given item ids, or 1-3 new ones; one server per backup."""
        rng = self._rng
        ids = list(item_ids) if item_ids is not None else [self.uuid() for _ in range(rng.randint(1, 3))]
        record_id = checkpoint_id or self.uuid()
        policy = rng.choice(self._policies) if rng.random() < 0.75 else None
        created = self._now - timedelta(days=rng.uniform(0.5, SPREAD_DAYS))
        servers = rng.sample(self._servers, k=min(len(ids), len(self._servers)))
        return [
            self.item(item_id, record_id, created + timedelta(seconds=rng.uniform(0, 30)), policy,
                      servers[n % len(servers)])
            for n, item_id in enumerate(ids)
        ]

    def item(self, item_id: str, checkpoint_id: str, created_at: datetime, policy_id: str | None,
             server: tuple[str, str, str] | None = None) -> Item:
        """One available backup of ``server`` (a random one if None)."""
        rng = self._rng
        resource_id, resource_name, zone = server or rng.choice(self._servers)
        prefix = "autobk" if policy_id else "manualbk"
        # A backup took minutes, but never finished in the future: one created "now" finished now.
        finished = min(created_at + timedelta(minutes=rng.uniform(2, 25)), max(created_at, self._now))
        return Item(
            id=item_id, checkpoint_id=checkpoint_id, name=f"{prefix}_{rng.getrandbits(16):04x}",
            resource_id=resource_id, resource_name=resource_name, created_at=created_at,
            policy_id=policy_id, resource_az=zone, size_mb=rng.randrange(1024, 204800, 1024),
            taskid=self.uuid(), finished_at=finished, updated_at=finished,
            tags=[{"key": "env", "value": rng.choice(_ENVS)}] if rng.random() < 0.5 else [],
        )

    def server(self) -> tuple[str, str, str]:
        """A random server of the pool: (resource id, resource name, availability zone)."""
        return self._rng.choice(self._servers)

    def _server(self, n: int) -> tuple[str, str, str]:
        role = _ROLES[n % len(_ROLES)]
        return self.uuid(), f"ecs-{role}-{n // len(_ROLES) + 1:02d}", self._rng.choice(_ZONES)
