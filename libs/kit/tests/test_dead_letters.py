"""Dead letters: what a consumer gives up on is kept on its own stream and can be handed back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import nats
import pytest
from faststream.nats import NatsBroker
from nats.js.api import RawStreamMsg
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from coagent_cli.testing import eventually
from coagent_contracts.chat import MessagePostedV1, message_posted_subject
from coagent_contracts.streams import CHAT, dead_letter_subject, replay_subject
from coagent_contracts.streams import DEAD_LETTERS as DEAD_LETTER_STREAM
from coagent_kit.broker import (
    DL_ATTEMPTS,
    DL_CONSUMER,
    DL_ERROR,
    DL_REASON,
    DL_STREAM_SEQ,
    DL_SUBJECT,
    Retry,
    publish_event,
    start_broker,
    subscribe_event,
)

MakePosted = Callable[..., MessagePostedV1]


async def _dead_letter_of(js: JetStreamContext, durable: str) -> RawStreamMsg:
    return await js.get_last_msg(DEAD_LETTER_STREAM.name, dead_letter_subject(durable))


@pytest.mark.integration
async def test_an_invalid_message_is_kept_as_a_dead_letter(
    durable: str, real_broker: Callable[[], NatsBroker], streams: str, js: JetStreamContext
) -> None:
    subject = message_posted_subject(f"room-{uuid.uuid4().hex[:12]}")

    async def handler(event: MessagePostedV1) -> None:
        raise AssertionError("an invalid message must not reach the handler")

    broker = real_broker()
    subscribe_event(broker, MessagePostedV1, durable, handler, filter_subject=subject)
    await start_broker(broker, streams, wait_s=2.0)
    ack = await js.publish(subject, b'{"type": "chat.message.posted"}')

    async def kept() -> bool:
        try:
            await _dead_letter_of(js, durable)
        except NotFoundError:
            return False
        return True

    await eventually(kept)
    letter = await _dead_letter_of(js, durable)
    assert letter.data == b'{"type": "chat.message.posted"}'
    headers = letter.headers or {}
    assert headers[DL_REASON] == "invalid"
    assert headers[DL_CONSUMER] == durable
    assert headers[DL_SUBJECT] == subject
    assert headers[DL_STREAM_SEQ] == str(ack.seq)
    assert "validation error" in headers[DL_ERROR]
    await js.delete_consumer(CHAT.name, durable)


@pytest.mark.integration
async def test_a_message_that_always_fails_is_kept_after_the_last_attempt(
    durable: str,
    real_broker: Callable[[], NatsBroker],
    streams: str,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    event = make_posted()
    attempts: list[str] = []

    async def broken(received: MessagePostedV1) -> None:
        attempts.append(received.event_id)
        raise RuntimeError("downstream is gone")

    broker = real_broker()
    subscribe_event(
        broker,
        MessagePostedV1,
        durable,
        broken,
        filter_subject=message_posted_subject(event.data.room_id),
        retry=Retry(max_deliver=3, backoff_s=(0.05,)),
    )
    await start_broker(broker, streams, wait_s=2.0)
    await publish_event(broker, event)

    async def given_up() -> bool:
        info = await js.consumer_info(CHAT.name, durable)
        return len(attempts) == 3 and info.num_ack_pending == 0

    await eventually(given_up)
    letter = await _dead_letter_of(js, durable)
    assert MessagePostedV1.model_validate_json(letter.data or b"") == event
    headers = letter.headers or {}
    assert (headers[DL_REASON], headers[DL_ATTEMPTS]) == ("exhausted", "3")
    assert headers[DL_ERROR] == "RuntimeError: downstream is gone"
    assert headers["Coagent-Event-Type"] == event.type
    await asyncio.sleep(0.3)  # terminated: no fourth delivery
    assert len(attempts) == 3
    await js.delete_consumer(CHAT.name, durable)


@pytest.mark.integration
async def test_a_dead_letter_handed_back_is_processed_by_its_consumer_only(
    durable: str,
    real_broker: Callable[[], NatsBroker],
    streams: str,
    nats_url: str,
    make_posted: MakePosted,
) -> None:
    event = make_posted()
    handled: list[str] = []

    async def handler(received: MessagePostedV1) -> None:
        handled.append(received.event_id)

    broker = real_broker()
    subscribe_event(
        broker,
        MessagePostedV1,
        durable,
        handler,
        filter_subject=message_posted_subject(event.data.room_id),
    )
    await start_broker(broker, streams, wait_s=2.0)
    nc = await nats.connect(nats_url)
    try:
        reply = await nc.request(
            replay_subject(durable), event.model_dump_json().encode(), timeout=5
        )
        assert json.loads(reply.data) == {"status": "processed"}
        assert handled == [event.event_id]
        refused = await nc.request(replay_subject(durable), b"{}", timeout=5)
        assert json.loads(refused.data)["status"] == "invalid"
        assert handled == [event.event_id]
    finally:
        await nc.close()
