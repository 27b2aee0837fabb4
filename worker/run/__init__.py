"""One command, one run: the ``delete``, ``plan`` and ``fleet`` jobs from a typed request to an exit code.

``cli.py`` turns argv into a ``DeleteRequest`` or ``PlanRequest``; ``DeleteRun`` and ``PlanRun`` own
everything after that (settings, client, plan, scheduler, report, metrics) and one cancel scope that a stop
or the deadline cancels, whatever phase is running (``lifecycle.Lifecycle``).
"""

from worker.run.delete import DeleteRun
from worker.run.fleet import FleetRun
from worker.run.plan_command import PlanRun
from worker.run.request import DeleteRequest, EmbeddedCloud, EmbeddedFleet, FleetRequest, PlanRequest

__all__ = ["DeleteRequest", "DeleteRun", "EmbeddedCloud", "EmbeddedFleet", "FleetRequest", "FleetRun", "PlanRequest",
           "PlanRun"]
