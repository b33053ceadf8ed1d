"""A run continues the trace of whoever queued it, wherever and whenever a worker claims it:
``workflow.run`` → ``workflow.node`` per node → ``llm.call`` per model call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from coagent_kit.tracing import setup_tracing, span

from .conftest import OWNER

START = {"id": "start", "type": "start"}
END = {"id": "end", "type": "end"}


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    setup_tracing("engine-tests", exporter=exporter)
    yield exporter
    exporter.shutdown()


def _spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    setup_tracing("engine-tests").force_flush()
    return list(exporter.get_finished_spans())


def _parent_of(spans: list[ReadableSpan], child: ReadableSpan) -> ReadableSpan:
    assert child.parent is not None, child.name
    (parent,) = [s for s in spans if s.context and s.context.span_id == child.parent.span_id]
    return parent


async def test_a_claimed_run_continues_the_trace_that_queued_it(
    env: Any, exported: InMemorySpanExporter
) -> None:
    graph = env.graph([START, env.agent_node("a"), END], [("start", "a"), ("a", "end")])
    workflow_id = await env.workflow(graph)
    with span("POST /workflows/{id}/execute") as request:
        queued = await env.runs.execute(OWNER, workflow_id, "r1", {"content": "hi"})
    assert queued.trace_context is not None
    assert "traceparent" in queued.trace_context

    run = await env.drive()  # later, outside the request: the worker's own task
    assert run.status == "succeeded", run.error

    spans = _spans(exported)
    trace_id = request.get_span_context().trace_id
    (run_span,) = [s for s in spans if s.name == "workflow.run"]
    assert run_span.context is not None
    assert run_span.context.trace_id == trace_id
    assert _parent_of(spans, run_span).name == request.name
    attributes = dict(run_span.attributes or {})
    assert attributes["coagent.run_id"] == run.id
    assert attributes["coagent.room_id"] == "r1"
    assert attributes["coagent.workflow_id"] == workflow_id

    nodes = [s for s in spans if s.name == "workflow.node"]
    assert sorted(dict(s.attributes or {})["coagent.node_id"] for s in nodes) == [
        "a",
        "end",
        "start",
    ]
    assert all(_parent_of(spans, s) == run_span for s in nodes)
    (call,) = [s for s in spans if s.name == "llm.call"]
    assert dict(_parent_of(spans, call).attributes or {})["coagent.node_id"] == "a"
    assert dict(call.attributes or {})["gen_ai.usage.output_tokens"] > 0
