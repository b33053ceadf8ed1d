"""A ``ChatModel`` wrapper that makes every model call one ``llm.call`` span.

Attributes follow the OpenTelemetry GenAI conventions (``gen_ai.*``: provider, requested and
answering model, token usage, finish reason) plus the call's kind, cost and whether the offline
model answered. It sits outermost, so one span covers one logical call including its retries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from opentelemetry.trace import Span, Status, StatusCode

from coagent_kit.tracing import Attributes, set_attributes, start_span
from coagent_workflow_engine.llm.ports import (
    ChatModel,
    ChatRequest,
    Completion,
    Delta,
    SchemaT,
    Usage,
)

SPAN_NAME = "llm.call"


class TracedChatModel:
    """Wraps ``inner``; every call is a span, child of the node that made it."""

    def __init__(self, inner: ChatModel) -> None:
        self._inner = inner

    @property
    def provider(self) -> str:
        return self._inner.provider

    @property
    def default_model(self) -> str:
        return self._inner.default_model

    def _start(self, kind: str, request: ChatRequest) -> Span:
        return start_span(
            SPAN_NAME,
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": self.provider,
                "gen_ai.request.model": request.model or self.default_model,
                "gen_ai.request.temperature": request.temperature,
                "coagent.llm.kind": kind,
                "coagent.llm.messages": len(request.messages),
            },
        )

    async def complete(self, request: ChatRequest) -> Completion:
        span = self._start("complete", request)
        try:
            completion = await self._inner.complete(request)
        except BaseException as exc:
            _fail(span, exc)
            raise
        _finish(span, completion_attributes(completion))
        return completion

    async def structured(
        self, request: ChatRequest, schema: type[SchemaT]
    ) -> tuple[SchemaT, Usage]:
        span = self._start("structured", request)
        try:
            value, usage = await self._inner.structured(request, schema)
        except BaseException as exc:
            _fail(span, exc)
            raise
        _finish(span, usage_attributes(usage))
        return value, usage

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        # Started, not made current: the consumer iterates this generator in its own context.
        span, ended = self._start("stream", request), False
        try:
            async for delta in self._inner.stream(request):
                if delta.completion is not None and not ended:
                    _finish(span, completion_attributes(delta.completion))
                    ended = True
                yield delta
        except Exception as exc:
            if not ended:
                _fail(span, exc)
                ended = True
            raise
        finally:
            if not ended:  # abandoned (closed or cancelled) mid-stream
                _fail(span, None)


def usage_attributes(usage: Usage) -> Attributes:
    """``gen_ai.usage.*`` of one call."""
    return {
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
        "gen_ai.usage.total_tokens": usage.total_tokens,
        "coagent.llm.usage_estimated": usage.estimated,
    }


def completion_attributes(completion: Completion) -> Attributes:
    """What the answer tells: the model that answered, usage, cost, finish reason."""
    reasons = (completion.finish_reason,) if completion.finish_reason else None
    return {
        **usage_attributes(completion.usage),
        "gen_ai.response.model": completion.model,
        "gen_ai.response.finish_reasons": reasons,
        "coagent.llm.cost_usd": completion.cost_usd,
        "coagent.llm.offline": completion.offline,
    }


def _finish(span: Span, attributes: Attributes) -> None:
    set_attributes(span, attributes)
    span.end()


def _fail(span: Span, error: BaseException | None) -> None:
    code = "llm_stream_abandoned" if error is None else getattr(error, "code", None)
    set_attributes(span, {"error.type": code or type(error).__name__})
    if error is not None:
        span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, str(error or code)[:200]))
    span.end()
