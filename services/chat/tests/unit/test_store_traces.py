"""Storing a message is one ``chat.store_message`` span: a person's post and an agent's reply."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from coagent_chat.domain import NewMessage
from coagent_chat.service import ChatService
from coagent_contracts.workflow import AgentMessageProducedV1
from coagent_kit.tracing import setup_tracing

AgentReply = Callable[..., AgentMessageProducedV1]


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    setup_tracing("chat-tests", exporter=exporter)
    yield exporter
    exporter.shutdown()


def _stores(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    setup_tracing("chat-tests").force_flush()
    return [s for s in exporter.get_finished_spans() if s.name == "chat.store_message"]


async def test_a_post_and_its_retry_are_spans_naming_room_message_and_retry(
    service: ChatService, exported: InMemorySpanExporter
) -> None:
    message = NewMessage(
        room_id="r1", content="hi", sender_kind="human", sender_id="u1", client_msg_id="c-1"
    )
    stored = (await service.post(message)).message
    await service.post(message)
    first, retry = (dict(s.attributes or {}) for s in _stores(exported))
    assert first == {
        "coagent.room_id": "r1",
        "coagent.sender_kind": "human",
        "coagent.retry": False,
        "coagent.message_id": stored.id,
        "coagent.seq": stored.seq,
    }
    assert retry["coagent.retry"] is True
    assert "coagent.message_id" not in retry


async def test_an_agent_reply_is_a_span_naming_its_run(
    service: ChatService, agent_reply: AgentReply, exported: InMemorySpanExporter
) -> None:
    event = agent_reply(room_id="r2")
    await service.record_agent_message(event)
    (stored,) = _stores(exported)
    attributes = dict(stored.attributes or {})
    assert attributes["coagent.room_id"] == "r2"
    assert attributes["coagent.run_id"] == event.data.run_id
    assert attributes["coagent.sender_kind"] == "agent"
