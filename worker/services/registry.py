"""The one place that names the services: a service name maps to its entries (light) and its service object
(imported when a run asks for it, so a CSBS run never loads CBR's code, nor a ``--help`` either).

Adding a service (EVS snapshots, VBS backups: they delete the same asynchronous way) is one folder under
``worker/services/`` with the same files as ``csbs/`` and ``cbr/``, and one line here.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from worker.plan.schema import EntrySchema
from worker.services.cbr.entries import ENTRIES as CBR_ENTRIES
from worker.services.csbs.entries import ENTRIES as CSBS_ENTRIES

_MODULES: Final = {  # name -> the module whose SERVICE is the service object
    CSBS_ENTRIES.service: "worker.services.csbs.service",
    CBR_ENTRIES.service: "worker.services.cbr.service",
}
_ENTRIES: Final = {schema.service: schema for schema in (CSBS_ENTRIES, CBR_ENTRIES)}

NAMES: Final = tuple(_MODULES)
"""Every service a run can talk to, the default first."""
DEFAULT: Final = NAMES[0]


def entries(name: str) -> EntrySchema:
    """How the plan entries of service ``name`` read, knowing every other service's (for the hints)."""
    schema = _ENTRIES.get(name)
    if schema is None:
        raise ValueError(f"unknown service {name!r}; expected one of {', '.join(NAMES)}")
    return dataclasses.replace(schema, known=tuple(_ENTRIES.values()))


def module(name: str) -> str:
    """The module whose ``SERVICE`` is the service object of ``name`` (``worker.services.lookup`` imports it)."""
    entries(name)  # an unknown name is refused in the same words
    return _MODULES[name]
