"""The ``MessagePostedV1`` consumer fed through FastStream's in-memory test broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from prometheus_client import REGISTRY

from coagent_contracts.chat import MessagePostedV1, message_posted_subject
from coagent_kit.broker import create_broker, publish_event
from coagent_trigger.adapters.memory import MemoryStore
from coagent_trigger.consumers import register_consumers
from coagent_trigger.policy_service import PolicyService
from coagent_trigger.service import ROOM_ACTIVITY_CONSUMER, TriggerService

Posted = Callable[..., MessagePostedV1]


@pytest.fixture
async def broker(service: TriggerService, policies: PolicyService) -> AsyncIterator[NatsBroker]:
    real = create_broker("nats://127.0.0.1:4222", "trigger")
    register_consumers(real, service, policies)
    async with TestNatsBroker(real) as test_broker:
        yield test_broker


def dead_letters() -> float:
    value = REGISTRY.get_sample_value(
        "coagent_dead_letters_total", {"consumer": ROOM_ACTIVITY_CONSUMER, "reason": "invalid"}
    )
    return value or 0.0


async def test_a_posted_message_updates_the_room_activity(
    broker: NatsBroker, store: MemoryStore, posted: Posted
) -> None:
    event = posted(1)
    await publish_event(broker, event)
    await publish_event(broker, event)  # a redelivery (or a duplicate publish) counts once

    activity = store.activity["r1"]
    assert (activity.message_count, activity.last_seq) == (1, 1)
    assert activity.last_human_message_at == event.data.created_at


@pytest.mark.parametrize(
    "payload",
    [
        b"not json at all",
        b'{"type": "chat.message.posted", "version": 1}',
        # A complete envelope whose data breaks the contract (seq must be >= 1).
        b'{"event_id": "e1", "type": "chat.message.posted", "version": 1, "producer": "chat",'
        b' "occurred_at": "2026-01-05T09:00:00Z", "data": {"message_id": "m1", "room_id": "r1",'
        b' "seq": 0, "sender_kind": "human", "content": "x",'
        b' "created_at": "2026-01-05T09:00:00Z"}}',
    ],
    ids=["garbage", "no-data", "invalid-seq"],
)
async def test_an_invalid_payload_is_rejected_as_a_dead_letter(
    broker: NatsBroker, store: MemoryStore, posted: Posted, payload: bytes
) -> None:
    before = dead_letters()

    await broker.publish(payload, message_posted_subject("r1"), stream="CHAT")

    assert dead_letters() == before + 1
    assert store.activity == {}
    # The consumer is still alive: the next valid message is applied.
    await publish_event(broker, posted(1))
    assert store.activity["r1"].message_count == 1
