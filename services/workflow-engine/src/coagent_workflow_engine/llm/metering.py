"""A ``ChatModel`` wrapper that writes every call (failed ones too) into a ``UsageLedger``.

It sits outermost, so one record covers one logical call including its retries, and the run's
token/cost budget sees exactly what the caller asked for. Streams are recorded when their final
delta arrives, or when they fail or are abandoned.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

from coagent_workflow_engine.llm.ports import (
    ChatModel,
    ChatRequest,
    Completion,
    Delta,
    SchemaT,
    Usage,
)
from coagent_workflow_engine.llm.pricing import CallKind, LLMCallRecord, UsageLedger, cost_of
from coagent_workflow_engine.metrics import record_llm_call


class MeteredChatModel:
    """Records usage and cost per call under ``(tenant_id, run_id)``."""

    def __init__(
        self,
        inner: ChatModel,
        ledger: UsageLedger,
        *,
        tenant_id: str,
        run_id: str | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._inner, self._ledger = inner, ledger
        self._tenant_id, self._run_id, self._clock = tenant_id, run_id, clock

    @property
    def provider(self) -> str:
        return self._inner.provider

    @property
    def default_model(self) -> str:
        return self._inner.default_model

    def _record(
        self,
        kind: CallKind,
        request: ChatRequest,
        started: float,
        *,
        completion: Completion | None = None,
        usage: Usage | None = None,
        error: BaseException | None = None,
    ) -> None:
        offline = self.provider == "offline"
        if completion is not None:
            model, usage = completion.model, completion.usage
            cost, priced, offline = completion.cost_usd, completion.priced, completion.offline
        else:
            model, usage = request.model or self.default_model, usage or Usage()
            cost, priced = cost_of(model, usage, offline=offline)
        call = LLMCallRecord(
            run_id=self._run_id,
            tenant_id=self._tenant_id,
            provider=self.provider,
            model=model,
            kind=kind,
            usage=usage,
            cost_usd=cost,
            priced=priced,
            offline=offline,
            duration_ms=round((self._clock() - started) * 1000, 3),
            error=None if error is None else getattr(error, "code", type(error).__name__),
        )
        self._ledger.record(call)
        record_llm_call(call)

    async def complete(self, request: ChatRequest) -> Completion:
        started = self._clock()
        try:
            completion = await self._inner.complete(request)
        except BaseException as exc:  # cancelled calls are recorded too, then re-raised
            self._record("complete", request, started, error=exc)
            raise
        self._record("complete", request, started, completion=completion)
        return completion

    async def structured(
        self, request: ChatRequest, schema: type[SchemaT]
    ) -> tuple[SchemaT, Usage]:
        started = self._clock()
        try:
            value, usage = await self._inner.structured(request, schema)
        except BaseException as exc:
            self._record("structured", request, started, error=exc)
            raise
        self._record("structured", request, started, usage=usage)
        return value, usage

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        started, recorded = self._clock(), False
        try:
            async for delta in self._inner.stream(request):
                if delta.completion is not None:
                    self._record("stream", request, started, completion=delta.completion)
                    recorded = True
                yield delta
        except Exception as exc:
            if not recorded:
                self._record("stream", request, started, error=exc)
                recorded = True
            raise
        finally:
            if not recorded:  # abandoned or cancelled mid-stream: tokens were still spent
                self._record("stream", request, started, error=_Abandoned())


class _Abandoned(Exception):
    code = "llm_stream_abandoned"


class _Unkept(UsageLedger):
    """Keeps no records: a run counts its tokens per step; the meter still feeds the metrics."""

    def record(self, record: LLMCallRecord) -> None:
        return None


_UNKEPT = _Unkept()


def metered(model: ChatModel, tenant_id: str, run_id: str | None) -> ChatModel:
    """``model`` with every call counted in the LLM metrics (tokens, errors, latency)."""
    if isinstance(model, MeteredChatModel):
        return model  # already metered by its factory: count each call once
    return MeteredChatModel(model, _UNKEPT, tenant_id=tenant_id, run_id=run_id)
