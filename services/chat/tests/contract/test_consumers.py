"""The ``AgentMessageProducedV1`` consumer fed through FastStream's in-memory test broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from prometheus_client import REGISTRY

from coagent_chat.adapters.memory import MemoryStore
from coagent_chat.consumers import register_consumers
from coagent_chat.service import AGENT_REPLIES_CONSUMER, ChatService
from coagent_contracts.chat import MessagePostedV1, RoomActivityRecordedV1
from coagent_contracts.workflow import AgentMessageProducedV1, agent_message_produced_subject
from coagent_kit.broker import create_broker, publish_event

AgentReply = Callable[..., AgentMessageProducedV1]


@pytest.fixture
async def broker(service: ChatService) -> AsyncIterator[NatsBroker]:
    real = create_broker("nats://127.0.0.1:4222", "chat")
    register_consumers(real, service)
    async with TestNatsBroker(real) as test_broker:
        yield test_broker


def dead_letters() -> float:
    value = REGISTRY.get_sample_value(
        "coagent_dead_letters_total", {"consumer": AGENT_REPLIES_CONSUMER, "reason": "invalid"}
    )
    return value or 0.0


async def test_an_agent_reply_becomes_a_room_message(
    broker: NatsBroker, store: MemoryStore, agent_reply: AgentReply
) -> None:
    event = agent_reply("r1", "the answer")
    await publish_event(broker, event)
    await publish_event(broker, event)  # a redelivery is stored once

    stored = store.messages["r1"]
    assert [(m.seq, m.body.content, m.body.sender_kind) for m in stored] == [
        (1, "the answer", "agent")
    ]
    assert [type(e) for e in store.published] == [MessagePostedV1, RoomActivityRecordedV1]
    posted = store.published[0]
    assert isinstance(posted, MessagePostedV1)
    assert posted.causation_id == event.event_id


@pytest.mark.parametrize(
    "payload",
    [
        b"not json at all",
        b'{"type": "workflow.agent_message.produced", "version": 1}',
        # A complete envelope whose data breaks the contract (room_id must not be empty).
        b'{"event_id": "e1", "type": "workflow.agent_message.produced", "version": 1,'
        b' "producer": "workflow-engine", "occurred_at": "2026-01-05T09:00:00Z",'
        b' "data": {"run_id": "run1", "workflow_id": "w1", "workflow_version": 1,'
        b' "room_id": "", "agent_id": "a1", "agent_name": "A", "content": "x"}}',
    ],
    ids=["garbage", "no-data", "empty-room"],
)
async def test_an_invalid_payload_stores_nothing(
    broker: NatsBroker, store: MemoryStore, agent_reply: AgentReply, payload: bytes
) -> None:
    before = dead_letters()

    await broker.publish(payload, agent_message_produced_subject("run1"), stream="WORKFLOW")

    assert dead_letters() == before + 1
    assert store.messages == {}
    assert store.published == []
    # The consumer is still alive: the next valid reply is stored.
    await publish_event(broker, agent_reply("r1"))
    assert len(store.messages["r1"]) == 1
