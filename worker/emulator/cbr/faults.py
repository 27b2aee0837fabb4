"""Injected faults on the CBR routes, decided as the CSBS emulator decides them.

Each rule counts the requests of its route; ``after`` lets the first ones through, ``times`` caps the
hits, ``rate`` makes each hit a seeded coin toss; the first rule that fires decides. ``applied-500``
rules are asked after a request was served successfully; all others before auth.
"""

from __future__ import annotations

from worker.emulator.cbr import errors
from worker.emulator.cbr.scenario import CbrFaultRule
from worker.emulator.faults import APPLIED_500, FaultInjector

CbrFaultInjector = FaultInjector[CbrFaultRule]
"""The CSBS emulator's injector, over CBR rules."""


def fault_error(rule: CbrFaultRule) -> errors.CbrError | None:
    """The error answer of a rule; None for ``slow`` (answer normally) and ``drop`` (no answer)."""
    if rule.kind == "429":
        return errors.throttled(None)
    if rule.kind == "429-retry-after":
        return errors.throttled(1.0 if rule.retry_after_s is None else rule.retry_after_s)
    if rule.kind in ("500", APPLIED_500):
        return errors.internal_error()
    if rule.kind == "503":
        return errors.unavailable()
    if rule.kind == "401":
        return errors.unauthorized("the credentials were revoked")
    if rule.kind == "403":
        return errors.forbidden("the permission was withdrawn")
    return None
