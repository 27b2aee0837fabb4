"""When and how long to wait before sending a throttled or transient call again.

Roles, botocore style:

- ``RetryPolicy``: the settings (base, cap, attempts), a frozen value.
- ``backoff_s``: truncated exponential backoff with full jitter, the randomness injected.
- ``delay_before_retry_s``: the server's ``Retry-After`` when it sent one, else the backoff.
- ``call_with_retries``: sends a call again while its answer is retryable (``.retryable``),
  until the attempts run out or the next sleep would pass the caller's deadline.

What is retryable is decided by the answer itself (for CSBS, ``worker.engine.answer``), not here: any value
with ``.retryable`` and ``.retry_after_s`` (the ``RetryableAnswer`` protocol) can be retried, so this module
depends on no client.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeAlias, TypeVar


class RetryableAnswer(Protocol):
    """What retrying needs to know of an answer (``worker.services.csbs.Answer`` is one)."""

    @property
    def retryable(self) -> bool:
        """True when sending the call again may get a better answer."""
        ...

    @property
    def retry_after_s(self) -> float | None:
        """The server's ``Retry-After`` in seconds, when it sent one."""
        ...


A = TypeVar("A", bound=RetryableAnswer)

Rng: TypeAlias = Callable[[], float]
"""A source of floats in [0, 1); ``random.random`` in production, ``lambda: 1`` in tests."""

OnRetry: TypeAlias = Callable[[A, int, float], None]
"""Called before each sleep with the retryable answer, the attempt that got it (1-based) and the delay."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a retryable call is repeated.

    Args:
        base_s: the backoff ceiling of the first retry; it doubles with every attempt.
        cap_s: the largest delay ever slept, also the cap on a server's ``Retry-After``.
        max_attempts: attempts in all (the first one included); None = until the deadline.
    """

    base_s: float = 1.0
    cap_s: float = 60.0
    max_attempts: int | None = None


DEFAULT_RETRY_POLICY = RetryPolicy()


def backoff_s(policy: RetryPolicy, attempt: int, rng: Rng = random.random) -> float:
    """Full jitter: ``rng() * min(cap, base * 2 ** (attempt - 1))``; ``attempt`` is 1-based."""
    # The exponent is bounded so that a long run of attempts cannot overflow the float.
    ceiling = min(policy.cap_s, policy.base_s * 2.0 ** min(attempt - 1, 64))
    return rng() * ceiling


def delay_before_retry_s(policy: RetryPolicy, answer: RetryableAnswer, attempt: int, rng: Rng = random.random) -> float:
    """The server's ``Retry-After`` when it sent one (within 0..cap), else the jittered backoff."""
    if answer.retry_after_s is not None:
        return min(max(answer.retry_after_s, 0.0), policy.cap_s)
    return backoff_s(policy, attempt, rng)


async def call_with_retries(
    call: Callable[[], Awaitable[A]],
    policy: RetryPolicy,
    *,
    deadline: float | None,
    on_retry: OnRetry[A] | None = None,
    rng: Rng = random.random,
    stop_on: Callable[[A], bool] | None = None,
) -> tuple[A, int]:
    """Send ``call`` until its answer is not retryable, the attempts run out, or the deadline is near.

    ``deadline`` is a ``loop.time()`` instant; no sleep is started that would end after it. ``stop_on``
    ends the retries early for answers that are retryable elsewhere but decide this caller (the
    preflight's gateway 404). Returns the last answer and the number of attempts made.
    """
    loop = asyncio.get_running_loop()
    attempt = 0
    while True:
        attempt += 1
        answer = await call()
        if not answer.retryable or _attempts_exhausted(policy, attempt) or (stop_on is not None and stop_on(answer)):
            return answer, attempt
        delay = delay_before_retry_s(policy, answer, attempt, rng)
        if deadline is not None and loop.time() + delay > deadline:
            return answer, attempt
        if on_retry is not None:
            on_retry(answer, attempt, delay)
        await asyncio.sleep(delay)


def _attempts_exhausted(policy: RetryPolicy, attempt: int) -> bool:
    """True when ``attempt`` was the last one the policy allows."""
    return policy.max_attempts is not None and attempt >= policy.max_attempts
