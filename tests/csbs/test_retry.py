"""The retry policy: full-jitter backoff, Retry-After, attempts and deadline."""

from __future__ import annotations

import asyncio

import pytest

from worker.engine.answer import Answer, AnswerKind
from worker.engine.retry import RetryPolicy, backoff_s, call_with_retries, delay_before_retry_s

THROTTLED = Answer(AnswerKind.THROTTLED, status=429, error_code="APIG.0308")
TRANSIENT = Answer(AnswerKind.TRANSIENT, status=503)
OK = Answer(AnswerKind.OK, status=200, data={})


def test_backoff_sequence_with_maximal_jitter():
    """With rng() = 1 the delays double from base and stop at the cap (botocore style)."""
    policy = RetryPolicy(base_s=1.0, cap_s=20.0)
    delays = [backoff_s(policy, attempt, rng=lambda: 1) for attempt in range(1, 10)]
    assert delays == [1, 2, 4, 8, 16, 20, 20, 20, 20]


def test_backoff_is_full_jitter():
    """The delay is rng() times the ceiling, so it can be anything from 0 up."""
    policy = RetryPolicy(base_s=0.5, cap_s=60.0)
    assert backoff_s(policy, 3, rng=lambda: 0.25) == 0.5
    assert backoff_s(policy, 3, rng=lambda: 0.0) == 0.0


def test_backoff_survives_huge_attempt_numbers():
    """A very long run of attempts still gives the cap, not an overflow."""
    assert backoff_s(RetryPolicy(cap_s=7.0), 10_000, rng=lambda: 1) == 7.0


def test_retry_after_wins_over_backoff():
    """A server's Retry-After is the delay, whatever the attempt."""
    answer = Answer(AnswerKind.THROTTLED, status=429, retry_after_s=3.0)
    assert delay_before_retry_s(RetryPolicy(base_s=1.0), answer, 5, rng=lambda: 1) == 3.0


def test_retry_after_is_capped():
    """A Retry-After beyond the cap waits the cap only; a negative one waits nothing."""
    policy = RetryPolicy(cap_s=10.0)
    assert delay_before_retry_s(policy, Answer(AnswerKind.THROTTLED, retry_after_s=3600.0), 1) == 10.0
    assert delay_before_retry_s(policy, Answer(AnswerKind.THROTTLED, retry_after_s=-5.0), 1) == 0.0


def test_no_retry_after_means_backoff():
    """Without Retry-After the jittered backoff is used."""
    assert delay_before_retry_s(RetryPolicy(base_s=2.0), TRANSIENT, 2, rng=lambda: 1) == 4.0


def scripted(*answers: Answer):
    """A call that gives the answers in turn, and records how often it ran."""
    remaining = list(answers)
    sent: list[Answer] = []

    async def call() -> Answer:
        sent.append(remaining.pop(0))
        return sent[-1]

    return call, sent


async def test_retries_until_ok():
    """Throttled and transient answers are retried; the OK answer ends it with the attempt count."""
    call, _ = scripted(THROTTLED, TRANSIENT, OK)
    retries: list[tuple[Answer, int, float]] = []
    answer, attempts = await call_with_retries(
        call,
        RetryPolicy(base_s=0.001),
        deadline=None,
        on_retry=lambda a, n, d: retries.append((a, n, d)),
        rng=lambda: 1,
    )
    assert (answer, attempts) == (OK, 3)
    assert retries == [(THROTTLED, 1, 0.001), (TRANSIENT, 2, 0.002)]


@pytest.mark.parametrize("kind", [AnswerKind.GONE, AnswerKind.BUSY, AnswerKind.PERMANENT, AnswerKind.FATAL])
async def test_non_retryable_answers_are_returned_at_once(kind):
    """Gone, busy, permanent and fatal answers are never retried here."""
    final = Answer(kind, status=400)
    call, sent = scripted(final, OK)
    assert await call_with_retries(call, RetryPolicy(base_s=0.001), deadline=None) == (final, 1)
    assert len(sent) == 1


async def test_stop_on_ends_the_retries_of_an_answer_that_decides_the_caller():
    """A retryable answer that ``stop_on`` picks (the preflight's gateway 404) is returned at once."""
    gateway = Answer(AnswerKind.NO_SERVICE, status=404, error_code="APIGW.0101")
    call, sent = scripted(TRANSIENT, gateway, OK)
    answer, attempts = await call_with_retries(call, RetryPolicy(base_s=0.001), deadline=None, rng=lambda: 1,
                                               stop_on=lambda a: a.kind is AnswerKind.NO_SERVICE)
    assert (answer, attempts, len(sent)) == (gateway, 2, 2)


async def test_max_attempts_bounds_the_retries():
    """After max_attempts the last retryable answer is returned."""
    call, sent = scripted(TRANSIENT, TRANSIENT, TRANSIENT, OK)
    answer, attempts = await call_with_retries(call, RetryPolicy(base_s=0.001, max_attempts=2), deadline=None)
    assert (answer, attempts, len(sent)) == (TRANSIENT, 2, 2)


async def test_no_sleep_past_the_deadline():
    """When the next sleep would pass the deadline, the retryable answer is returned without sleeping."""
    call, _ = scripted(THROTTLED, OK)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer, attempts = await call_with_retries(call, RetryPolicy(base_s=30.0), deadline=started + 1.0, rng=lambda: 1)
    assert (answer, attempts) == (THROTTLED, 1)
    assert loop.time() - started < 1.0


async def test_retry_after_inside_the_deadline_is_honoured():
    """A short Retry-After within the deadline is slept, then the call is sent again."""
    call, _ = scripted(Answer(AnswerKind.THROTTLED, status=429, retry_after_s=0.01), OK)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer, attempts = await call_with_retries(call, RetryPolicy(base_s=30.0), deadline=started + 5.0, rng=lambda: 1)
    assert (answer, attempts) == (OK, 2)
    assert loop.time() - started >= 0.01


async def test_any_answer_with_retryable_and_retry_after_can_be_retried():
    """call_with_retries is generic: another client's answer type (here a CBR-like one) is retried as is."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class OtherAnswer:
        retryable: bool
        retry_after_s: float | None = 0.0

    answers = iter([OtherAnswer(True), OtherAnswer(True), OtherAnswer(False)])
    retried: list[int] = []

    async def call() -> OtherAnswer:
        return next(answers)

    last, attempts = await call_with_retries(
        call, RetryPolicy(), deadline=None, on_retry=lambda answer, attempt, delay: retried.append(attempt)
    )
    assert (last, attempts, retried) == (OtherAnswer(False), 3, [1, 2])


async def test_no_service_answers_are_retried_until_the_deadline():
    """A gateway 404 (NO_SERVICE) is retried like a transient answer, never taken as final at once."""
    no_service = Answer(AnswerKind.NO_SERVICE, status=404, error_code="APIGW.0101")
    calls = 0

    async def call() -> Answer:
        nonlocal calls
        calls += 1
        return no_service if calls < 3 else OK

    last, attempts = await call_with_retries(call, RetryPolicy(base_s=0.001, cap_s=0.001), deadline=None)
    assert (last, attempts) == (OK, 3)
