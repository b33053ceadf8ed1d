"""The span helpers services name their operations with: parents from headers, new traces for
user actions (linked to the span they happened in), spans ended by their owner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from coagent_kit.tracing import (
    ROOM_ID,
    exporting,
    inject_headers,
    new_trace,
    set_attributes,
    setup_tracing,
    span,
    start_span,
)


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    # The provider is process-wide: this adds an exporter to it (or installs it first).
    exporter = InMemorySpanExporter()
    provider = setup_tracing("kit-tests", exporter=exporter)
    yield exporter
    provider.force_flush()
    exporter.shutdown()


def _finished(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    setup_tracing("kit-tests").force_flush()
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return found[0]


def test_a_span_drops_unknown_attributes_and_nests(exported: InMemorySpanExporter) -> None:
    with (
        span("outer.op", {ROOM_ID: "r-1", "coagent.run_id": None}) as outer,
        span("inner.op") as inner,
    ):
        pass
    recorded = _finished(exported, "outer.op")
    assert dict(recorded.attributes or {}) == {ROOM_ID: "r-1"}
    assert _finished(exported, "inner.op").parent is not None
    assert inner.get_span_context().trace_id == outer.get_span_context().trace_id
    assert exporting() is True


def test_a_span_continues_the_trace_in_headers(exported: InMemorySpanExporter) -> None:
    with span("writer.op") as writer:
        headers = inject_headers({"Nats-Msg-Id": "e-1"})
    # Later, elsewhere: no current span, the context comes from the stored headers.
    with span("reader.op", parent=headers):
        pass
    reader = _finished(exported, "reader.op")
    assert reader.context is not None
    assert reader.parent is not None
    assert reader.context.trace_id == writer.get_span_context().trace_id
    assert reader.parent.span_id == writer.get_span_context().span_id


def test_a_new_trace_is_a_root_linked_to_the_current_span(
    exported: InMemorySpanExporter,
) -> None:
    with span("connection.op") as connection, new_trace("action.op", {ROOM_ID: "r-2"}) as action:
        assert action.get_span_context().trace_id != connection.get_span_context().trace_id
    recorded = _finished(exported, "action.op")
    assert recorded.parent is None
    assert recorded.kind is SpanKind.SERVER
    assert [link.context.span_id for link in recorded.links] == [
        connection.get_span_context().span_id
    ]


def test_a_new_trace_outside_any_span_has_no_link(exported: InMemorySpanExporter) -> None:
    with new_trace("lonely.op"):
        pass
    assert list(_finished(exported, "lonely.op").links) == []


def test_a_started_span_is_not_current_and_ends_when_told(
    exported: InMemorySpanExporter,
) -> None:
    with span("caller.op") as caller:
        child = start_span("call.op", {"gen_ai.request.model": "m"})
        assert inject_headers()["traceparent"].split("-")[2] == format(
            caller.get_span_context().span_id, "016x"
        )
    set_attributes(child, {"gen_ai.usage.output_tokens": 3, "skipped": None})
    child.end()
    recorded = _finished(exported, "call.op")
    assert recorded.parent is not None
    assert recorded.parent.span_id == caller.get_span_context().span_id
    assert dict(recorded.attributes or {}) == {
        "gen_ai.request.model": "m",
        "gen_ai.usage.output_tokens": 3,
    }
