"""The LLM layer's error hierarchy.

The reference returned provider failures as reply text ("All API keys failed. Last error: …"), so
agents posted error strings into rooms as if the model had said them. Here every failure is an
exception of a small typed hierarchy: callers decide (fail the run, fall back, tell the room) and
the retry/circuit layer decides what is worth retrying from the type alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime


class LLMError(Exception):
    """Base of every LLM-layer failure. ``code`` is stable and safe to store on a failed run."""

    code: str = "llm_error"
    #: Whether retrying the same call with the same key may succeed.
    retryable: bool = False
    #: Whether the failure says something about the provider or key (it feeds the breaker).
    counts_against_key: bool = False

    def __init__(self, detail: str, *, provider: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.provider = provider


class RateLimited(LLMError):
    """429: retry later, after ``retry_after_s`` seconds when the provider said so."""

    code, retryable, counts_against_key = "llm_rate_limited", True, True

    def __init__(
        self, detail: str, *, retry_after_s: float | None = None, provider: str | None = None
    ) -> None:
        super().__init__(detail, provider=provider)
        self.retry_after_s = retry_after_s


class AuthenticationFailed(LLMError):
    """401/403, an invalid key or an exhausted quota: retrying with this key cannot help."""

    code, counts_against_key = "llm_authentication_failed", True


class ProviderUnavailable(LLMError):
    """5xx, timeouts and network errors: transient, worth a retry with backoff."""

    code, retryable, counts_against_key = "llm_provider_unavailable", True, True


class BadRequest(LLMError):
    """The request itself is wrong (unknown model, invalid parameters, context too long)."""

    code = "llm_bad_request"


class InvalidOutput(LLMError):
    """Structured output still failed schema validation after the repair rounds."""

    code = "llm_invalid_output"


class CircuitOpen(LLMError):
    """The breaker of this (tenant, provider, key) is open: the call was not attempted."""

    code = "llm_circuit_open"

    def __init__(
        self, detail: str, *, retry_in_s: float | None = None, provider: str | None = None
    ) -> None:
        super().__init__(detail, provider=provider)
        self.retry_in_s = retry_in_s


class Cancelled(LLMError):
    """The provider call was aborted by something other than an asyncio cancel of the caller.

    An ``asyncio.CancelledError`` is never converted into this: it always propagates unchanged so
    task cancellation (a run's stop request) stays prompt.
    """

    code = "llm_cancelled"


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (delta seconds or an HTTP date).

    Returns ``None`` when no usable hint is present; never a negative number.
    """
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        seconds = _as_float(raw_ms)
        if seconds is not None:
            return max(seconds / 1000.0, 0.0)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    seconds = _as_float(raw)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def parse_duration(text: str) -> float | None:
    """Parse a protobuf duration such as ``"17s"`` or ``"0.5s"`` (Gemini's ``retryDelay``)."""
    if not text.endswith("s"):
        return None
    value = _as_float(text[:-1])
    return None if value is None else max(value, 0.0)


def _as_float(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
