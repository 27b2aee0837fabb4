"""Injected faults: which request a rule hits, and the answer it turns into.

Each rule counts the requests of its route; ``after`` lets the first ones through, ``times`` caps how many
it hits, ``rate`` makes each hit a seeded coin toss. Every rule counts every matching request, and the
first rule that fires decides, so rules do not shift one another's counts. ``applied-500`` rules are
asked after the request was served (and count only requests that succeeded); all others before auth.
A rule's answer is written in the face's own errors (``FaceErrors``); a listing plays the kinds that are
no error (``empty-page``, ``vanished-marker``: see ``worker.emulator.core.routes.FAULT``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from worker.emulator.core.errors import ApiError, FaceErrors
from worker.emulator.core.scenario import BaseFaultRule

APPLIED_500 = "applied-500"


class FaultInjector:
    """Decides, request by request, whether a fault rule fires (for either face's rules).

    Args:
        rules: the scenario's rules, in order.
        rng: seeded randomness for ``rate``.
    """

    def __init__(self, rules: Sequence[BaseFaultRule], rng: random.Random) -> None:
        self._rules = tuple(rules)
        self._seen = [0] * len(self._rules)
        self._rng = rng

    def before(self, route: str) -> BaseFaultRule | None:
        """The rule that hits this request before it is served, if any."""
        return self._pick(route, applied=False)

    def after(self, route: str) -> BaseFaultRule | None:
        """The ``applied-500`` rule that turns this served request's answer into a 500, if any."""
        return self._pick(route, applied=True)

    def _pick(self, route: str, applied: bool) -> BaseFaultRule | None:
        chosen = None
        for index, rule in enumerate(self._rules):
            if (rule.kind == APPLIED_500) != applied or rule.route not in (route, "*"):
                continue
            self._seen[index] += 1
            if chosen is None and self._fires(rule, self._seen[index]):
                chosen = rule
        return chosen

    def _fires(self, rule: BaseFaultRule, seen: int) -> bool:
        nth = seen - rule.after
        if nth <= 0 or (rule.times is not None and nth > rule.times):
            return False
        return rule.rate is None or self._rng.random() < rule.rate


def fault_error(rule: BaseFaultRule, errors: FaceErrors) -> ApiError | None:
    """The error answer of a rule in the face's errors; None for ``slow`` (answer normally), ``drop`` (no
    answer at all) and the kinds a handler plays (``empty-page``, ``vanished-marker``)."""
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
    if rule.kind.startswith("404-"):  # 404-apigw, 404-apig, 404-html: the gateway lost the API
        return errors.gateway_not_found(rule.kind.removeprefix("404-"))
    return None
