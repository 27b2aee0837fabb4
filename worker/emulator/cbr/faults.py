"""Injected faults on the CBR routes, decided as the CSBS emulator decides them.

Each rule counts the requests of its route; ``after`` lets the first ones through, ``times`` caps the
hits, ``rate`` makes each hit a seeded coin toss; the first rule that fires decides. ``applied-500``
rules are asked after a request was served successfully; all others before auth.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from worker.emulator.cbr import errors
from worker.emulator.cbr.scenario import CbrFaultRule

APPLIED_500 = "applied-500"


class CbrFaultInjector:
    """Decides, request by request, whether a fault rule fires.

    Args:
        rules: the scenario's rules, in order.
        rng: seeded randomness for ``rate``.
    """

    def __init__(self, rules: Sequence[CbrFaultRule], rng: random.Random) -> None:
        self._rules = tuple(rules)
        self._seen = [0] * len(self._rules)
        self._rng = rng

    def before(self, route: str) -> CbrFaultRule | None:
        """The rule that hits this request before it is served, if any."""
        return self._pick(route, applied=False)

    def after(self, route: str) -> CbrFaultRule | None:
        """The ``applied-500`` rule that turns this served request's answer into a 500, if any."""
        return self._pick(route, applied=True)

    def _pick(self, route: str, applied: bool) -> CbrFaultRule | None:
        chosen = None
        for index, rule in enumerate(self._rules):
            if (rule.kind == APPLIED_500) != applied or rule.route not in (route, "*"):
                continue
            self._seen[index] += 1  # every matching rule counts, so rules do not shift each other's counts
            if chosen is None and self._fires(rule, self._seen[index]):
                chosen = rule
        return chosen

    def _fires(self, rule: CbrFaultRule, seen: int) -> bool:
        nth = seen - rule.after
        if nth <= 0 or (rule.times is not None and nth > rule.times):
            return False
        return rule.rate is None or self._rng.random() < rule.rate


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
