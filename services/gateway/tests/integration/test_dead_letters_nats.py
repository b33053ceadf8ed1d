"""The JetStream dead-letter store against a real NATS server and a real failing consumer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from faststream.nats import NatsBroker

from coagent_cli.testing import eventually
from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_gateway.adapters.dead_letters_nats import NatsDeadLetters
from coagent_gateway.admin.dead_letters import ConsumerUnreachable, DeadLetter, ReplayRefused
from coagent_kit.broker import (
    Retry,
    create_broker,
    ensure_streams,
    publish_event,
    start_broker,
    subscribe_event,
)

pytestmark = pytest.mark.integration


class Flaky:
    """A handler that fails until it is told to recover."""

    def __init__(self) -> None:
        self.broken = True
        self.handled: list[str] = []

    async def __call__(self, event: MessagePostedV1) -> None:
        if self.broken:
            raise RuntimeError("projection store is down")
        self.handled.append(event.event_id)


def _posted(room_id: str) -> MessagePostedV1:
    return MessagePostedV1(
        producer="gateway-tests",
        data=MessagePostedData(
            message_id=uuid.uuid4().hex,
            room_id=room_id,
            seq=1,
            sender_kind="human",
            content="hello",
            created_at=datetime.now(UTC),
        ),
    )


@pytest.fixture
async def store(nats_url: str) -> AsyncIterator[NatsDeadLetters]:
    await ensure_streams(nats_url)
    store = NatsDeadLetters(nats_url, replay_timeout_s=5.0)
    await store.start()
    yield store
    await store.stop()


@pytest.fixture
async def consumer(nats_url: str) -> AsyncIterator[tuple[NatsBroker, Flaky, str, str]]:
    durable = f"gw-dl-{uuid.uuid4().hex[:10]}"
    room = f"room-{uuid.uuid4().hex[:10]}"
    flaky = Flaky()
    broker = create_broker(nats_url, "gateway-tests")
    subscribe_event(
        broker,
        MessagePostedV1,
        durable,
        flaky,
        filter_subject=f"chat.room.{room}.message.posted.v1",
        retry=Retry(max_deliver=2, backoff_s=(0.05,)),
    )
    await start_broker(broker, nats_url, wait_s=2.0)
    yield broker, flaky, durable, room
    await broker.stop()


async def _letter_of(store: NatsDeadLetters, durable: str) -> DeadLetter | None:
    letters = await store.recent(durable, None, 5)
    return letters[0] if letters else None


async def test_a_dead_letter_is_listed_handed_back_and_removed(
    store: NatsDeadLetters, consumer: tuple[NatsBroker, Flaky, str, str]
) -> None:
    broker, flaky, durable, room = consumer
    event = _posted(room)
    await publish_event(broker, event)
    letter = await eventually(lambda: _letter_of(store, durable), "a dead letter", 10)
    assert letter.subject == event.subject
    assert (letter.reason, letter.attempts) == ("exhausted", 2)
    assert letter.event_type == "chat.message.posted"
    assert MessagePostedV1.model_validate_json(letter.body) == event
    assert await store.get(letter.seq) == letter

    with pytest.raises(ReplayRefused, match="projection store is down"):
        await store.hand_back(letter)  # still broken: the letter stays
    flaky.broken = False
    await store.hand_back(letter)
    assert flaky.handled == [event.event_id]
    assert await store.discard(letter.seq)
    assert await store.get(letter.seq) is None
    assert not await store.discard(letter.seq)


async def test_a_hand_back_to_a_stopped_consumer_says_so(
    store: NatsDeadLetters, consumer: tuple[NatsBroker, Flaky, str, str]
) -> None:
    broker, _, durable, room = consumer
    await publish_event(broker, _posted(room))
    letter = await eventually(lambda: _letter_of(store, durable), "a dead letter", 10)
    await broker.stop()
    await asyncio.sleep(0.1)
    with pytest.raises(ConsumerUnreachable):
        await store.hand_back(letter)
