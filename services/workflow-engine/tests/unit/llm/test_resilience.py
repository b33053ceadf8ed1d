"""Retries (Retry-After, backoff, no retry on auth/bad request), per-key breakers, cancellation."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from coagent_workflow_engine.llm import (
    AuthenticationFailed,
    BadRequest,
    BreakerRegistry,
    ChatMessage,
    ChatRequest,
    CircuitOpen,
    Completion,
    Delta,
    ProviderUnavailable,
    RateLimited,
    ResilientChatModel,
    RetryPolicy,
    Usage,
    collect,
    key_fingerprint,
)
from coagent_workflow_engine.llm.resilience import BreakerState, CircuitBreaker

REQ = ChatRequest(messages=[ChatMessage(role="user", content="hi")])
NO_JITTER = RetryPolicy(max_attempts=3, base_delay_s=0.5, jitter=0.0)


def done(text: str = "ok") -> Completion:
    return Completion(text=text, usage=Usage.of(1, 1), provider="fake", model="m")


class Scripted:
    """A ChatModel whose calls return or raise the next scripted outcome."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes, self.calls = list(outcomes), 0

    provider = "fake"
    default_model = "m"

    def _next(self) -> Any:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else done()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def complete(self, request: ChatRequest) -> Completion:
        outcome = self._next()
        if isinstance(outcome, asyncio.Event):  # hang until cancelled
            await outcome.wait()
        return outcome  # type: ignore[no-any-return]

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        outcome = self._next()
        for item in outcome:
            if isinstance(item, BaseException):
                raise item
            yield Delta(text=item)
        yield Delta(completion=done("".join(outcome)))

    async def structured(self, request: ChatRequest, schema: type[Any]) -> tuple[Any, Usage]:
        return self._next(), Usage()


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wrap(
    inner: Scripted,
    *,
    breaker: CircuitBreaker | None = None,
    sleep: Any = None,
    policy: RetryPolicy = NO_JITTER,
) -> ResilientChatModel:
    breaker = breaker or BreakerRegistry().get("t1", "fake", "key")
    return ResilientChatModel(
        inner, breaker, policy=policy, sleep=sleep or Sleeps(), rng=random.Random(1)
    )


async def test_retry_after_is_honoured_exactly() -> None:
    sleeps, inner = Sleeps(), Scripted(RateLimited("slow", retry_after_s=7.0), done("yes"))
    assert (await wrap(inner, sleep=sleeps).complete(REQ)).text == "yes"
    assert sleeps.calls == [7.0]
    assert inner.calls == 2


async def test_retry_after_jitter_never_waits_less() -> None:
    sleeps = Sleeps()
    inner = Scripted(RateLimited("slow", retry_after_s=2.0), RateLimited("slow", retry_after_s=2.0))
    await wrap(inner, sleep=sleeps, policy=RetryPolicy(jitter=0.5)).complete(REQ)
    assert all(2.0 <= s <= 3.0 for s in sleeps.calls)
    assert len(sleeps.calls) == 2


async def test_exponential_backoff_on_unavailable_then_gives_up() -> None:
    sleeps = Sleeps()
    inner = Scripted(*(ProviderUnavailable("503") for _ in range(3)))
    with pytest.raises(ProviderUnavailable):
        await wrap(inner, sleep=sleeps).complete(REQ)
    assert sleeps.calls == [0.5, 1.0]
    assert inner.calls == 3


async def test_backoff_is_capped() -> None:
    sleeps = Sleeps()
    inner = Scripted(*(ProviderUnavailable("x") for _ in range(4)), done())
    policy = RetryPolicy(max_attempts=5, base_delay_s=1.0, max_delay_s=3.0, jitter=0.0)
    await wrap(inner, sleep=sleeps, policy=policy).complete(REQ)
    assert sleeps.calls == [1.0, 2.0, 3.0, 3.0]


async def test_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    sleeps, inner = Sleeps(), Scripted(RateLimited("daily quota", retry_after_s=3600.0))
    with pytest.raises(RateLimited):
        await wrap(inner, sleep=sleeps).complete(REQ)
    assert sleeps.calls == []
    assert inner.calls == 1


@pytest.mark.parametrize("error", [AuthenticationFailed("bad key"), BadRequest("bad model")])
async def test_no_retry_on_permanent_errors(error: Exception) -> None:
    sleeps, inner = Sleeps(), Scripted(error)
    with pytest.raises(type(error)):
        await wrap(inner, sleep=sleeps).complete(REQ)
    assert inner.calls == 1
    assert sleeps.calls == []


async def test_structured_is_retried_too() -> None:
    class Out(BaseModel):
        x: int

    inner = Scripted(ProviderUnavailable("x"), Out(x=1))
    value, _ = await wrap(inner).structured(REQ, Out)
    assert value == Out(x=1)


async def test_stream_retries_only_before_the_first_token() -> None:
    inner = Scripted(ProviderUnavailable("connect"), ["a", "b"])
    assert (await collect(wrap(inner).stream(REQ))).text == "ab"
    assert inner.calls == 2

    broken = Scripted(["a", ProviderUnavailable("mid-stream")])
    seen: list[str] = []

    async def consume() -> None:
        async for delta in wrap(broken).stream(REQ):
            seen.append(delta.text)

    with pytest.raises(ProviderUnavailable):
        await consume()
    assert seen == ["a"]
    assert broken.calls == 1


def test_fingerprint_hides_the_key() -> None:
    fp = key_fingerprint("sk-secret")
    assert len(fp) == 12
    assert "secret" not in fp
    assert fp == key_fingerprint("sk-secret") != key_fingerprint("sk-other")


async def test_one_bad_key_never_blocks_other_keys_or_tenants() -> None:
    registry = BreakerRegistry(failure_threshold=2, cooldown_s=30)
    bad = Scripted(*(AuthenticationFailed("invalid key") for _ in range(5)))
    model_a = wrap(bad, breaker=registry.get("tenant-1", "openai", "key-A"))
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            await model_a.complete(REQ)
    with pytest.raises(CircuitOpen):
        await model_a.complete(REQ)
    assert bad.calls == 2  # the open breaker did not call the provider

    other_key = wrap(Scripted(), breaker=registry.get("tenant-1", "openai", "key-B"))
    other_tenant = wrap(Scripted(), breaker=registry.get("tenant-2", "openai", "key-A"))
    other_provider = wrap(Scripted(), breaker=registry.get("tenant-1", "google", "key-A"))
    for model in (other_key, other_tenant, other_provider):
        assert (await model.complete(REQ)).text == "ok"
    assert registry.get("tenant-1", "openai", "key-A").state is BreakerState.OPEN


async def test_retries_stop_when_the_breaker_opens() -> None:
    registry = BreakerRegistry(failure_threshold=2)
    inner = Scripted(*(ProviderUnavailable("down") for _ in range(5)))
    with pytest.raises(CircuitOpen):
        await wrap(
            inner,
            breaker=registry.get("t", "p", "k"),
            policy=RetryPolicy(max_attempts=5, jitter=0.0),
        ).complete(REQ)
    assert inner.calls == 2


async def test_half_open_probe_recovers_or_reopens() -> None:
    clock = Clock()
    breaker = BreakerRegistry(failure_threshold=1, cooldown_s=30, clock=clock).get("t", "p", "k")
    inner = Scripted(AuthenticationFailed("bad"), AuthenticationFailed("still bad"), done("back"))
    model = wrap(inner, breaker=breaker)
    with pytest.raises(AuthenticationFailed):
        await model.complete(REQ)
    with pytest.raises(CircuitOpen) as caught:
        await model.complete(REQ)
    assert caught.value.retry_in_s == pytest.approx(30)

    clock.now += 30
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(AuthenticationFailed):  # the probe fails: open again, cool-down restarts
        await model.complete(REQ)
    assert breaker.state is BreakerState.OPEN
    clock.now += 29
    with pytest.raises(CircuitOpen):
        await model.complete(REQ)

    clock.now += 1
    assert (await model.complete(REQ)).text == "back"
    assert breaker.state is BreakerState.CLOSED
    assert inner.calls == 3


def test_half_open_lets_one_probe_through_at_a_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker(key_for("t"), failure_threshold=1, cooldown_s=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    breaker.release()  # e.g. the probe was cancelled
    breaker.before_call()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def key_for(tenant: str) -> Any:
    from coagent_workflow_engine.llm.resilience import BreakerKey

    return BreakerKey(tenant, "p", key_fingerprint("k"))


async def test_cancel_during_backoff_sleep_propagates_promptly() -> None:
    sleeping = asyncio.Event()

    async def real_sleep(seconds: float) -> None:
        sleeping.set()
        await asyncio.sleep(seconds)

    inner = Scripted(ProviderUnavailable("down"), done())
    model = wrap(inner, sleep=real_sleep, policy=RetryPolicy(base_delay_s=3600, jitter=0.0))
    task = asyncio.create_task(model.complete(REQ))
    await asyncio.wait_for(sleeping.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert inner.calls == 1  # no retry after the cancel


async def test_cancel_during_the_provider_call_is_not_retried() -> None:
    hang = asyncio.Event()
    clock = Clock()
    breaker = CircuitBreaker(key_for("t"), failure_threshold=1, cooldown_s=5, clock=clock)
    breaker.record_failure()
    clock.now += 5  # half-open: this call is the probe
    inner = Scripted(hang)
    task = asyncio.create_task(wrap(inner, breaker=breaker).complete(REQ))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert inner.calls == 1
    breaker.before_call()  # the cancelled probe freed its slot
