"""The WebSocket ends of a trace: a received frame starts one, a delivered frame joins the trace
of the event it was made from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from coagent_gateway.chat.delivery import deliver_span, receive_span
from coagent_gateway.chat.live import Outbox, RoomHub
from coagent_kit.tracing import inject_headers, setup_tracing, span


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    setup_tracing("gateway-tests", exporter=exporter)
    yield exporter
    exporter.shutdown()


def _named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    setup_tracing("gateway-tests").force_flush()
    return [s for s in exporter.get_finished_spans() if s.name == name]


async def test_a_fanned_out_frame_carries_the_trace_of_its_event(
    exported: InMemorySpanExporter,
) -> None:
    hub = RoomHub("nats://unused")
    outbox = Outbox()
    hub.join("a", outbox)
    with span("relay.publish") as published:
        headers = inject_headers()
    hub.publish("a", {"type": "message", "seq": 4, "room_id": "a"}, headers)
    item = await outbox.next()
    assert item is not None
    topic, frame = item
    with deliver_span(topic, frame):
        pass
    (delivered,) = _named(exported, "ws.deliver")
    assert delivered.parent is not None
    assert delivered.parent.span_id == published.get_span_context().span_id
    attributes = dict(delivered.attributes or {})
    assert attributes["coagent.seq"] == 4
    assert attributes["coagent.room_id"] == "a"
    assert attributes["coagent.topic"] == "room:a"


async def test_a_frame_from_no_traced_event_is_sent_without_a_span(
    exported: InMemorySpanExporter,
) -> None:
    hub = RoomHub("nats://unused")
    outbox = Outbox()
    hub.join("a", outbox)
    hub.publish("a", {"type": "typing", "room_id": "a"})
    item = await outbox.next()
    assert item is not None
    with deliver_span(*item):
        pass
    with deliver_span("room:a", {"type": "presence"}):  # a plain dict: never fanned out
        pass
    assert _named(exported, "ws.deliver") == []


def test_a_received_frame_starts_its_own_trace_linked_to_the_connection(
    exported: InMemorySpanExporter,
) -> None:
    with span("websocket /api/v1/chat/ws/{room_id}") as connection, receive_span("r-1", "u-1"):
        pass
    (received,) = _named(exported, "ws.receive")
    assert received.parent is None
    assert received.context is not None
    assert received.context.trace_id != connection.get_span_context().trace_id
    assert [link.context.span_id for link in received.links] == [
        connection.get_span_context().span_id
    ]
    assert dict(received.attributes or {}) == {"coagent.room_id": "r-1", "enduser.id": "u-1"}
