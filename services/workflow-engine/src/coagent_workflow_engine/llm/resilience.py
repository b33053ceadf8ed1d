"""Retries with backoff and a circuit breaker per (tenant, provider, key).

The reference kept one breaker per provider per process, shared by every tenant and key: one
tenant's invalid key opened the breaker for everyone on that provider for 30 s. Here each
(tenant, provider, key fingerprint) has its own breaker, so a bad key only ever blocks itself.

Retries use tenacity (a well-kept library with async support, custom waits and an injectable
sleep); only ``RateLimited`` and ``ProviderUnavailable`` are retried, waiting for ``Retry-After``
when the provider sent one. No breaker library fits cleanly (pybreaker's async path needs Tornado,
the others key breakers by function or keep global state), so the breaker is a small class here.
``asyncio.CancelledError`` is never caught for good: cancelling the caller stops a retry loop,
a backoff sleep or a stream at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from coagent_kit.logging import get_logger
from coagent_workflow_engine.llm.errors import CircuitOpen, LLMError, RateLimited
from coagent_workflow_engine.llm.ports import (
    ChatModel,
    ChatRequest,
    Completion,
    Delta,
    SchemaT,
    Usage,
)

log = get_logger(__name__)
T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def key_fingerprint(api_key: str | None) -> str:
    """First 12 hex digits of the key's SHA-256: identifies a key without storing or logging it."""
    if not api_key:
        return "no-key"
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerKey:
    tenant_id: str
    provider: str
    key_fingerprint: str


class CircuitBreaker:
    """Closed → open after ``failure_threshold`` consecutive failures → half-open after
    ``cooldown_s``, where exactly one probe call is let through: success closes, failure re-opens.
    """

    def __init__(
        self,
        key: BreakerKey,
        *,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.key = key
        self._threshold = failure_threshold
        self._cooldown = cooldown_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self._cooldown

    def before_call(self) -> None:
        """Raise ``CircuitOpen`` unless a call may go out now (maybe as the half-open probe)."""
        if self._state is BreakerState.CLOSED:
            return
        if self._state is BreakerState.OPEN and self._cooled_down():
            self._state = BreakerState.HALF_OPEN
        if self._state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return
        wait = max(self._cooldown - (self._clock() - self._opened_at), 0.0)
        raise CircuitOpen(
            f"circuit open for provider {self.key.provider!r} and key {self.key.key_fingerprint}",
            retry_in_s=wait,
            provider=self.key.provider,
        )

    def record_success(self) -> None:
        self._state, self._failures, self._probe_in_flight = BreakerState.CLOSED, 0, False

    def record_failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            if self._state is not BreakerState.OPEN:
                log.warning(
                    "llm_circuit_opened",
                    provider=self.key.provider,
                    key=self.key.key_fingerprint,
                    tenant_id=self.key.tenant_id,
                )
            self._state, self._opened_at = BreakerState.OPEN, self._clock()
        self._probe_in_flight = False

    def release(self) -> None:
        """The call ended without a verdict (cancelled, or a bug): free the probe slot."""
        self._probe_in_flight = False


class BreakerRegistry:
    """One breaker per (tenant, provider, key), created on first use; least-recently-used
    breakers beyond ``max_size`` are forgotten (a forgotten breaker restarts closed)."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Clock = time.monotonic,
        max_size: int = 10_000,
    ) -> None:
        self._threshold, self._cooldown, self._clock = failure_threshold, cooldown_s, clock
        self._max_size = max_size
        self._breakers: OrderedDict[BreakerKey, CircuitBreaker] = OrderedDict()

    def get(self, tenant_id: str, provider: str, api_key: str | None) -> CircuitBreaker:
        key = BreakerKey(tenant_id, provider, key_fingerprint(api_key))
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = CircuitBreaker(
                key, failure_threshold=self._threshold, cooldown_s=self._cooldown, clock=self._clock
            )
            self._breakers[key] = breaker
            while len(self._breakers) > self._max_size:
                self._breakers.popitem(last=False)
        self._breakers.move_to_end(key)
        return breaker


#: Shared by every model the factory builds in this process unless a registry is passed.
DEFAULT_BREAKERS = BreakerRegistry()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts include the first call. Backoff is ``base * 2**(n-1)`` capped at ``max_delay_s``
    with ±``jitter`` spread; a ``Retry-After`` hint replaces it, and a hint longer than
    ``max_retry_after_s`` is not waited for at all (the error goes to the caller to defer)."""

    max_attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 60.0
    jitter: float = 0.2


class ResilientChatModel:
    """Wraps a ``ChatModel`` with retries and the breaker of its (tenant, provider, key)."""

    def __init__(
        self,
        inner: ChatModel,
        breaker: CircuitBreaker,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._inner, self._breaker = inner, breaker
        self._policy = policy or RetryPolicy()
        self._sleep, self._rng = sleep, rng or random.Random()

    @property
    def provider(self) -> str:
        return self._inner.provider

    @property
    def default_model(self) -> str:
        return self._inner.default_model

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    async def complete(self, request: ChatRequest) -> Completion:
        return await self._with_retries(lambda: self._inner.complete(request))

    async def structured(
        self, request: ChatRequest, schema: type[SchemaT]
    ) -> tuple[SchemaT, Usage]:
        return await self._with_retries(lambda: self._inner.structured(request, schema))

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Retries only until the first delta arrives: text already shown cannot be replayed."""
        first, rest = await self._with_retries(lambda: _open_stream(self._inner, request))
        try:
            yield first
            async for delta in rest:
                yield delta
        finally:
            aclose = getattr(rest, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(call)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _attempt(self, call: Callable[[], Awaitable[T]]) -> T:
        self._breaker.before_call()
        try:
            result = await call()
        except LLMError as exc:
            if exc.counts_against_key:
                self._breaker.record_failure()
            else:
                self._breaker.record_success()  # reachable and the key was accepted
            raise
        except BaseException:
            self._breaker.release()
            raise
        self._breaker.record_success()
        return result

    def _should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, LLMError) or not exc.retryable:
            return False
        hint = exc.retry_after_s if isinstance(exc, RateLimited) else None
        return hint is None or hint <= self._policy.max_retry_after_s

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RateLimited) and exc.retry_after_s is not None:
            # Never earlier than the provider asked; jitter only pushes later.
            return exc.retry_after_s * (1.0 + self._policy.jitter * self._rng.random())
        delay: float = self._policy.base_delay_s * 2 ** (state.attempt_number - 1)
        spread = 1.0 + self._policy.jitter * self._rng.uniform(-1.0, 1.0)
        return min(delay, self._policy.max_delay_s) * spread

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        log.info(
            "llm_retry",
            provider=self.provider,
            key=self._breaker.key.key_fingerprint,
            attempt=state.attempt_number,
            delay_s=round(state.upcoming_sleep, 3),
            error=getattr(exc, "code", type(exc).__name__),
        )


async def _open_stream(
    inner: ChatModel, request: ChatRequest
) -> tuple[Delta, AsyncIterator[Delta]]:
    """Start a stream and wait for its first item, so connection errors surface as retryable."""
    iterator = inner.stream(request).__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        raise LLMError("provider stream ended before any output", provider=inner.provider) from None
    return first, iterator
