"""Plausible CBR backups from a seeded generator: servers with a system disk, backed up over months.

A few servers recur, so a retention planner has something to keep; automatic backups (``autobk_``) come
from a policy, manual ones (``manualbk_``) do not. Vaults migrated from CSBS are named after the policy,
or ``default`` (``docs/cbr-api.md``, migrated backups).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

_ROLES = ("web", "db", "app", "cache", "batch", "build", "mail", "proxy", "mq", "search")
SPREAD_DAYS = 180.0


class CbrFactory:
    """Ids, servers and times from one seeded generator (the same seed gives the same backups).

    Args:
        rng: the seeded generator.
        now: wall time the backups are older than.
        servers: how many servers backups are spread over.
    """

    def __init__(self, rng: random.Random, now: datetime, servers: int = 12) -> None:
        self._rng = rng
        self.now = now
        self._servers = [(self.uuid(), f"ecs-{_ROLES[n % len(_ROLES)]}-{n // len(_ROLES) + 1:02d}")
                         for n in range(max(1, servers))]

    def uuid(self) -> str:
        """A version-4 UUID drawn from the seeded generator."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def server(self) -> tuple[str, str]:
        """A random server of the pool: (resource id, resource name)."""
        return self._rng.choice(self._servers)

    def created_at(self) -> datetime:
        """A creation time within the last ``SPREAD_DAYS``."""
        return self.now - timedelta(days=self._rng.uniform(0.5, SPREAD_DAYS))

    def name(self, auto: bool) -> str:
        """``autobk_xxxx`` or ``manualbk_xxxx``."""
        return f"{'autobk' if auto else 'manualbk'}_{self._rng.getrandbits(16):04x}"

    def chance(self, probability: float) -> bool:
        """A seeded coin toss."""
        return self._rng.random() < probability
