"""Every model call is one ``llm.call`` span with the GenAI attributes: model, tokens, outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import BaseModel

from coagent_kit.tracing import setup_tracing, span
from coagent_workflow_engine.llm import ChatMessage, ChatRequest, OfflineChatModel
from coagent_workflow_engine.llm.errors import RateLimited
from coagent_workflow_engine.llm.ports import Completion, Delta, SchemaT, Usage
from coagent_workflow_engine.llm.tracing import TracedChatModel

REQ = ChatRequest(messages=[ChatMessage(role="user", content="How do plants grow?")])


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    setup_tracing("engine-tests", exporter=exporter)
    yield exporter
    exporter.shutdown()


def _calls(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    setup_tracing("engine-tests").force_flush()
    return [s for s in exporter.get_finished_spans() if s.name == "llm.call"]


async def test_a_streamed_call_is_one_child_span_with_model_and_usage(
    exported: InMemorySpanExporter,
) -> None:
    model = TracedChatModel(OfflineChatModel())
    with span("workflow.node") as node:
        chunks = [d async for d in model.stream(REQ)]
    final = chunks[-1].completion
    assert final is not None
    (call,) = _calls(exported)
    assert call.parent is not None
    assert call.parent.span_id == node.get_span_context().span_id
    attributes = dict(call.attributes or {})
    assert attributes["gen_ai.system"] == "offline"
    assert attributes["gen_ai.request.model"] == model.default_model
    assert attributes["gen_ai.response.model"] == final.model
    assert attributes["gen_ai.usage.input_tokens"] == final.usage.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == final.usage.completion_tokens > 0
    assert attributes["coagent.llm.kind"] == "stream"
    assert attributes["coagent.llm.offline"] is True
    assert call.status.status_code is StatusCode.UNSET


class Verdict(BaseModel):
    approved: bool


async def test_structured_and_complete_calls_are_spans_too(
    exported: InMemorySpanExporter,
) -> None:
    model = TracedChatModel(OfflineChatModel())
    _, usage = await model.structured(REQ, Verdict)
    await model.complete(REQ)
    structured, complete = _calls(exported)
    assert dict(structured.attributes or {})["coagent.llm.kind"] == "structured"
    assert dict(structured.attributes or {})["gen_ai.usage.total_tokens"] == usage.total_tokens
    assert dict(complete.attributes or {})["coagent.llm.kind"] == "complete"


class Failing:
    """A provider that refuses every call after streaming one delta."""

    provider = "openai"
    default_model = "gpt-test"

    async def complete(self, request: ChatRequest) -> Completion:
        raise RateLimited("slow down")

    async def structured(
        self, request: ChatRequest, schema: type[SchemaT]
    ) -> tuple[SchemaT, Usage]:
        raise RateLimited("slow down")

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        yield Delta(text="par")
        raise RateLimited("slow down")


async def test_a_failed_call_is_an_error_span_with_the_error_code(
    exported: InMemorySpanExporter,
) -> None:
    model = TracedChatModel(Failing())
    with pytest.raises(RateLimited):
        await model.complete(REQ)
    with pytest.raises(RateLimited):
        async for _ in model.stream(REQ):
            pass
    for call in _calls(exported):
        assert call.status.status_code is StatusCode.ERROR
        assert dict(call.attributes or {})["error.type"] == RateLimited("x").code


async def test_an_abandoned_stream_ends_its_span_as_an_error(
    exported: InMemorySpanExporter,
) -> None:
    model = TracedChatModel(OfflineChatModel())
    stream = model.stream(REQ)
    await anext(stream)
    await stream.aclose()
    (call,) = _calls(exported)
    assert call.status.status_code is StatusCode.ERROR
    assert dict(call.attributes or {})["error.type"] == "llm_stream_abandoned"
