"""Held deliveries on real JetStream: heartbeats keep a message past its ack wait, the handler's
ack settles it, and one the handler's process dropped comes back as the next attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from faststream.nats import NatsBroker
from nats.js.client import JetStreamContext

from coagent_cli.testing import eventually
from coagent_contracts.chat import MessagePostedV1, message_posted_subject
from coagent_contracts.streams import CHAT
from coagent_kit.broker import publish_event, start_broker, subscribe_held_event
from coagent_kit.delivery import Delivery

pytestmark = pytest.mark.integration

MakePosted = Callable[..., MessagePostedV1]
ACK_WAIT_S = 1.0


async def received(held: list[Delivery], count: int) -> bool:
    return len(held) == count


async def test_heartbeats_hold_a_message_past_its_ack_wait_until_the_handler_acks(
    durable: str,
    real_broker: Callable[[], NatsBroker],
    streams: str,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    event = make_posted()
    held: list[Delivery] = []

    async def handler(_: MessagePostedV1, delivery: Delivery) -> None:
        held.append(delivery)  # returns at once: the work goes on elsewhere

    broker = real_broker()
    subscribe_held_event(broker, MessagePostedV1, durable, handler, ack_wait_s=ACK_WAIT_S,
                         filter_subject=message_posted_subject(event.data.room_id))  # fmt: skip
    await start_broker(broker, streams, wait_s=2.0)
    await publish_event(broker, event)
    await eventually(lambda: received(held, 1), "delivered", 10.0)

    for _ in range(4):  # past the ack wait, heartbeating three times per ack wait
        await asyncio.sleep(ACK_WAIT_S / 3)
        await held[0].in_progress()
    assert len(held) == 1  # never redelivered while heartbeating
    assert (await js.consumer_info(CHAT.name, durable)).num_ack_pending == 1
    await held[0].ack()

    async def settled() -> bool:
        return (await js.consumer_info(CHAT.name, durable)).num_ack_pending == 0

    await eventually(settled, "acked", 10.0)
    await asyncio.sleep(ACK_WAIT_S * 1.2)
    assert [d.attempt for d in held] == [1]
    await js.delete_consumer(CHAT.name, durable)


async def test_a_message_left_unacked_comes_back_as_the_next_attempt(
    durable: str,
    real_broker: Callable[[], NatsBroker],
    streams: str,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    event = make_posted()
    held: list[Delivery] = []

    async def handler(_: MessagePostedV1, delivery: Delivery) -> None:
        held.append(delivery)
        if delivery.attempt > 1:
            await delivery.ack()

    broker = real_broker()
    subscribe_held_event(broker, MessagePostedV1, durable, handler, ack_wait_s=ACK_WAIT_S,
                         filter_subject=message_posted_subject(event.data.room_id))  # fmt: skip
    await start_broker(broker, streams, wait_s=2.0)
    await publish_event(broker, event)

    await eventually(lambda: received(held, 2), "redelivered", 10.0)
    assert [d.attempt for d in held] == [1, 2]

    async def settled() -> bool:
        return (await js.consumer_info(CHAT.name, durable)).num_ack_pending == 0

    await eventually(settled, "acked", 10.0)
    await js.delete_consumer(CHAT.name, durable)
