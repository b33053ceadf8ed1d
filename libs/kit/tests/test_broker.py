"""Broker wiring: consuming with validation and dead letters, streams, dedup and redelivery."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from nats.js.client import JetStreamContext
from prometheus_client import REGISTRY

from coagent_contracts.chat import MessagePostedV1, message_posted_subject
from coagent_contracts.streams import (
    ALL_STREAMS,
    CHAT,
    StreamSpec,
    UnknownSubject,
)
from coagent_kit.broker import (
    BrokerUnavailable,
    create_broker,
    ensure_streams,
    event_headers,
    publish_event,
    start_broker,
    stream_config,
    subscribe_event,
)

MakePosted = Callable[..., MessagePostedV1]


def _durable() -> str:
    return f"kit-{uuid.uuid4().hex[:12]}"


def _dead_letters(durable: str) -> float:
    value = REGISTRY.get_sample_value(
        "coagent_dead_letters_total", {"consumer": durable, "reason": "invalid"}
    )
    return value or 0.0


async def _eventually(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 8.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------ in memory (TestNatsBroker)


def test_event_headers_carry_the_message_id(make_posted: MakePosted) -> None:
    event = make_posted()
    headers = event_headers(event, {"traceparent": "tp"})
    assert headers == {
        "traceparent": "tp",
        "Nats-Msg-Id": event.event_id,
        "Coagent-Event-Type": "chat.message.posted",
    }


def test_stream_config_follows_the_spec() -> None:
    config = stream_config(CHAT)
    assert config.name == "CHAT"
    assert config.subjects == ["chat.>"]
    assert config.duplicate_window == CHAT.duplicate_window_s
    assert config.max_age == CHAT.max_age_s
    assert config.max_bytes == CHAT.max_bytes
    # One copy unless a cluster asks for more (COAGENT_STREAM_REPLICAS).
    assert config.num_replicas == 1


def test_stream_config_carries_the_replica_count() -> None:
    assert stream_config(CHAT, replicas=3).num_replicas == 3


async def test_valid_event_reaches_the_handler(make_posted: MakePosted) -> None:
    broker = create_broker("nats://127.0.0.1:1", "kit-tests")
    received: list[MessagePostedV1] = []

    async def handler(event: MessagePostedV1) -> None:
        received.append(event)

    durable = _durable()
    subscribe_event(broker, MessagePostedV1, durable, handler)
    event = make_posted(content="hello there")
    async with TestNatsBroker(broker) as test_broker:
        await test_broker.publish(event.model_dump_json().encode(), event.subject, stream=CHAT.name)
    assert received == [event]
    assert _dead_letters(durable) == 0


@pytest.mark.parametrize(
    "payload",
    [b"not json at all", b'{"type": "chat.message.posted", "version": 1}', b"{}"],
)
async def test_invalid_payload_is_a_dead_letter(payload: bytes) -> None:
    broker = create_broker("nats://127.0.0.1:1", "kit-tests")
    received: list[MessagePostedV1] = []

    async def handler(event: MessagePostedV1) -> None:
        received.append(event)

    durable = _durable()
    subscribe_event(broker, MessagePostedV1, durable, handler)
    before = _dead_letters(durable)
    async with TestNatsBroker(broker) as test_broker:
        await test_broker.publish(payload, message_posted_subject("r-bad"), stream=CHAT.name)
    assert received == []
    assert _dead_letters(durable) == before + 1


async def test_filter_subject_narrows_the_consumer(make_posted: MakePosted) -> None:
    broker = create_broker("nats://127.0.0.1:1", "kit-tests")
    received: list[str] = []

    async def handler(event: MessagePostedV1) -> None:
        received.append(event.data.room_id)

    subscribe_event(
        broker,
        MessagePostedV1,
        _durable(),
        handler,
        filter_subject=message_posted_subject("r-mine"),
    )
    mine = make_posted(room_id="r-mine")
    async with TestNatsBroker(broker) as test_broker:
        await test_broker.publish(mine.model_dump_json().encode(), mine.subject, stream="CHAT")
    assert received == ["r-mine"]


async def test_publish_event_refuses_a_subject_without_stream(make_posted: MakePosted) -> None:
    class Stray(MessagePostedV1):
        @property
        def subject(self) -> str:
            return "nowhere.at.all"

    event = Stray.model_validate(make_posted().model_dump())
    broker = create_broker("nats://127.0.0.1:1", "kit-tests")
    with pytest.raises(UnknownSubject):
        await publish_event(broker, event)


# ------------------------------------------------------------------ real NATS


@pytest.fixture
def scratch_spec() -> StreamSpec:
    name = f"KITTEST_{uuid.uuid4().hex[:8].upper()}"
    return StreamSpec(
        name=name,
        subjects=(f"{name.lower()}.>",),
        description="kit test stream",
        duplicate_window_s=42.0,
        max_age_s=3600.0,
        max_bytes=1024 * 1024,
    )


@pytest.mark.integration
async def test_ensure_streams_is_idempotent_and_creates_every_stream(
    nats_url: str, js: JetStreamContext
) -> None:
    await ensure_streams(nats_url)
    await ensure_streams(nats_url)
    for spec in ALL_STREAMS:
        info = await js.stream_info(spec.name)
        assert info.config.subjects == list(spec.subjects)
        assert info.config.duplicate_window == pytest.approx(spec.duplicate_window_s)
        assert info.config.max_age == pytest.approx(spec.max_age_s)
        assert info.config.max_bytes == spec.max_bytes
        assert info.config.num_replicas == 1


@pytest.mark.integration
async def test_ensure_streams_updates_a_changed_stream(
    nats_url: str, js: JetStreamContext, scratch_spec: StreamSpec
) -> None:
    try:
        await ensure_streams(nats_url, [scratch_spec])
        info = await js.stream_info(scratch_spec.name)
        assert info.config.duplicate_window == pytest.approx(42.0)
        changed = StreamSpec(**{**scratch_spec.__dict__, "duplicate_window_s": 60.0})
        await ensure_streams(nats_url, [changed])
        info = await js.stream_info(scratch_spec.name)
        assert info.config.duplicate_window == pytest.approx(60.0)
    finally:
        await js.delete_stream(scratch_spec.name)


@pytest.mark.integration
async def test_unreachable_broker_fails_fast_with_one_line() -> None:
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match=r"^cannot reach NATS at nats://127\.0\.0\.1:1: "):
        await ensure_streams("nats://127.0.0.1:1", wait_s=0.5)
    assert time.monotonic() - started < 2.0


@pytest.mark.integration
async def test_publish_twice_is_stored_once(
    real_broker: Callable[[], NatsBroker],
    streams: str,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    broker = real_broker()
    await start_broker(broker, streams, wait_s=2.0)
    event = make_posted()
    await publish_event(broker, event)
    await publish_event(broker, event)
    info = await js.stream_info(CHAT.name, subjects_filter=event.subject)
    assert info.state.subjects == {event.subject: 1}
    stored = await js.get_last_msg(CHAT.name, event.subject)
    assert stored.headers is not None
    assert stored.headers["Nats-Msg-Id"] == event.event_id
    assert stored.headers["Coagent-Event-Type"] == "chat.message.posted"
    assert MessagePostedV1.model_validate_json(stored.data or b"") == event
    # Another event on the same subject is not a duplicate.
    await publish_event(broker, make_posted(room_id=event.data.room_id))
    info = await js.stream_info(CHAT.name, subjects_filter=event.subject)
    assert info.state.subjects == {event.subject: 2}


@pytest.mark.integration
async def test_failing_handler_gets_the_message_again_then_acks(
    real_broker: Callable[[], NatsBroker],
    streams: str,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    event = make_posted()
    durable = _durable()
    attempts: list[str] = []

    async def flaky(received: MessagePostedV1) -> None:
        attempts.append(received.event_id)
        if len(attempts) == 1:
            raise RuntimeError("transient fault")

    broker = real_broker()
    subscribe_event(
        broker,
        MessagePostedV1,
        durable,
        flaky,
        filter_subject=message_posted_subject(event.data.room_id),
    )
    await start_broker(broker, streams, wait_s=2.0)
    await publish_event(broker, event)

    async def settled() -> bool:
        info = await js.consumer_info(CHAT.name, durable)
        return len(attempts) >= 2 and info.num_ack_pending == 0

    await _eventually(settled)
    info = await js.consumer_info(CHAT.name, durable)
    assert attempts == [event.event_id, event.event_id]
    assert info.delivered.stream_seq == info.ack_floor.stream_seq
    assert info.num_redelivered == 0
    assert info.num_pending == 0
    assert info.config.max_deliver == 20
    await js.delete_consumer(CHAT.name, durable)


@pytest.mark.integration
async def test_invalid_message_on_real_stream_is_terminated(
    real_broker: Callable[[], NatsBroker],
    streams: str,
    js: JetStreamContext,
) -> None:
    room = f"room-{uuid.uuid4().hex[:12]}"
    subject = message_posted_subject(room)
    durable = _durable()
    calls: list[MessagePostedV1] = []

    async def handler(event: MessagePostedV1) -> None:
        calls.append(event)

    broker = real_broker()
    subscribe_event(broker, MessagePostedV1, durable, handler, filter_subject=subject)
    await start_broker(broker, streams, wait_s=2.0)
    await js.publish(subject, b'{"type": "chat.message.posted"}')

    async def terminated() -> bool:
        info = await js.consumer_info(CHAT.name, durable)
        return _dead_letters(durable) == 1 and info.num_ack_pending == 0

    await _eventually(terminated)
    await asyncio.sleep(0.6)  # longer than the first backoff: a nack would have come back
    info = await js.consumer_info(CHAT.name, durable)
    assert calls == []
    assert info.num_redelivered == 0
    assert info.delivered.consumer_seq == 1
    assert _dead_letters(durable) == 1
    await js.delete_consumer(CHAT.name, durable)


@pytest.mark.integration
async def test_a_new_only_consumer_ignores_the_history_it_was_created_after(
    real_broker: Callable[[], NatsBroker],
    streams: str,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    old = make_posted(content="before the consumer existed")
    new = make_posted(room_id=old.data.room_id, content="after")
    durable = _durable()
    seen: list[str] = []

    async def handler(event: MessagePostedV1) -> None:
        seen.append(event.data.content)

    publisher = real_broker()
    await start_broker(publisher, streams, wait_s=2.0)
    await publish_event(publisher, old)
    broker = real_broker()
    subscribe_event(
        broker,
        MessagePostedV1,
        durable,
        handler,
        filter_subject=message_posted_subject(old.data.room_id),
        new_only=True,
    )
    await start_broker(broker, streams, wait_s=2.0)
    await publish_event(publisher, new)

    async def handled() -> bool:
        return seen == ["after"]

    await _eventually(handled)
    await asyncio.sleep(0.3)
    assert seen == ["after"]
    await js.delete_consumer(CHAT.name, durable)
