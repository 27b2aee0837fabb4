"""How a service's plan entries read: one of the two entry shapes, under the service's own keys.

The plan readers know the shapes, never a service: a service declares its ``EntrySchema`` (in its own folder,
``worker.services.<name>``) and the run hands it to ``read_plan``. ``known`` holds every registered service's
schema, so that an entry or a plan of another service is refused with the ``--service`` that reads it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Shape(enum.Enum):
    """What one entry of a plan names."""

    RECORDS = "records"  # a record (keys[0]) and optionally some of its backups (keys[1], a list): CSBS
    BACKUPS = "backups"  # one backup (keys[0]) and optionally what it must be in (keys[1], a check): CBR


@dataclass(frozen=True)
class EntrySchema:
    """The plan entries of one service."""

    service: str  # its name, as in --service and a plan's ``service:``
    shape: Shape
    keys: tuple[str, str]  # the entry's id key and its optional key
    known: tuple[EntrySchema, ...] = ()  # every registered service's schema (for hints), set by the registry

    @property
    def title(self) -> str:
        return self.service.upper()

    @property
    def names(self) -> tuple[str, ...]:
        """Every service a plan may name (this one when none are registered)."""
        return tuple(schema.service for schema in self.known) or (self.service,)

    def shape_text(self) -> str:
        """What an entry is, for a message."""
        return f"a mapping with {self.keys[0]} (and optional {self.keys[1]})"

    def owner_of(self, key: str) -> EntrySchema | None:
        """The other service whose entries take ``key``, if any."""
        return next((schema for schema in self.known if schema.service != self.service and key in schema.keys),
                    None)


RECORD_ENTRIES = EntrySchema("csbs", Shape.RECORDS, ("checkpoint_id", "checkpoint_items"))
"""The first service's entries, which a plan reads as when no service is given (``read_plan``'s default)."""
