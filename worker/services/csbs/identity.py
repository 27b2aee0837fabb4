"""How a CSBS run reads what identified a backup (``worker.services.identity``): what holds it is its record,
and a resource's backups are listed with ``checkpoint_items?resource_id=`` (every page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.engine.answer import Answer
from worker.services.csbs.client import CsbsClient
from worker.services.identity import ResourceListings

CONTAINER_KEY = "checkpoint_id"  # what holds a CSBS backup: its record


def resource_listings(client: CsbsClient) -> ResourceListings:
    """The run's listings of backups by resource, for an approvable plan's identity checks."""
    async def list_resource(resource_id: str, deadline: float) -> Answer:
        return await client.list_items(deadline=deadline, resource_id=resource_id)

    return ResourceListings(list_resource, CONTAINER_KEY)


def size_mb(item: Mapping[str, Any]) -> int | None:
    """A listed backup's size in MB (``extend_info.size``, docs/csbs-api.md), for an approvable plan's rows."""
    extend = item.get("extend_info")
    size = extend.get("size") if isinstance(extend, Mapping) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
