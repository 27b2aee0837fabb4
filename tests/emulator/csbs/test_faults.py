"""CSBS's own fault answers (the rules themselves are the core's: ``core/test_faults.py``; the gateway's 404
kinds: ``test_misbehaving.py``)."""

from __future__ import annotations

from tests.emulator.csbs.conftest import cloud, scenario
from worker.emulator import Emulator, FaultRule


async def test_429_is_apig_0308_over_a_rate_limit_per_minute(clock):
    """Kind 429 answers the gateway's throttling body, its limit per minute, and no Retry-After header."""
    emu = Emulator(scenario(faults=(FaultRule("list", "429"),)), clock=clock)
    async with cloud(emu) as c:
        answer = await c.list()
    assert answer.status == 429
    assert answer.body["error_code"] == "APIG.0308"
    assert answer.body["error_msg"].startswith("over ratelimit, limit:") and "time:1 minute" in answer.body["error_msg"]
    assert "Retry-After" not in answer.headers
