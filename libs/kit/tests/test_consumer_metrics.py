"""JetStream consumer metrics: the consumer-info poller and the redelivery counter."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.nats import NatsBroker
from nats.js.client import JetStreamContext
from prometheus_client import REGISTRY, generate_latest

from coagent_cli.testing import eventually
from coagent_contracts.chat import MessagePostedV1, message_posted_subject
from coagent_contracts.streams import CHAT
from coagent_kit.broker import create_broker, publish_event, start_broker, subscribe_event
from coagent_kit.consumer_metrics import (
    CONSUMERS,
    ConsumerInfoPoller,
    ConsumerState,
    count_redelivery,
    durable_consumers,
)

MakePosted = Callable[..., MessagePostedV1]


def _gauge(name: str, consumer: str, service: str = "kit-tests") -> float | None:
    return REGISTRY.get_sample_value(
        name, {"service": service, "stream": "CHAT", "consumer": consumer}
    )


def _redeliveries(consumer: str) -> float:
    return (
        REGISTRY.get_sample_value("coagent_jetstream_redeliveries_total", {"consumer": consumer})
        or 0.0
    )


def _errors(consumer: str, reason: str) -> float:
    labels = {"service": "kit-tests", "consumer": consumer, "reason": reason}
    return REGISTRY.get_sample_value("coagent_jetstream_consumer_info_errors_total", labels) or 0.0


async def _ignore(event: MessagePostedV1) -> None:
    return None


def _message(num_delivered: int | None, consumer: str) -> Any:
    return SimpleNamespace(metadata=SimpleNamespace(num_delivered=num_delivered, consumer=consumer))


class _CoreMessage:
    @property
    def metadata(self) -> Any:
        raise ValueError("not a JetStream message")


# ------------------------------------------------------------------ in memory


def test_only_durable_jetstream_subscribers_are_polled() -> None:
    broker = create_broker("nats://127.0.0.1:1", "kit-tests")
    subscribe_event(broker, MessagePostedV1, "kit-b", _ignore)
    subscribe_event(broker, MessagePostedV1, "kit-a", _ignore)

    @broker.subscriber("plain.core.subject")
    async def core(body: Any) -> None:
        return None

    # The replay subscribers subscribe_event adds are core NATS: not consumers.
    assert durable_consumers(broker) == [("CHAT", "kit-a"), ("CHAT", "kit-b")]


def test_redeliveries_are_counted_by_consumer_and_first_deliveries_are_not() -> None:
    consumer = f"kit-{uuid.uuid4().hex[:8]}"
    count_redelivery(_message(1, consumer))
    count_redelivery(_message(None, consumer))
    assert _redeliveries(consumer) == 0
    count_redelivery(_message(2, consumer))
    count_redelivery(_message(5, consumer))
    assert _redeliveries(consumer) == 2
    count_redelivery(_CoreMessage())  # a core NATS message is ignored, not an error
    assert _redeliveries(consumer) == 2


def test_states_are_exported_while_the_poller_runs() -> None:
    poller = ConsumerInfoPoller(create_broker("nats://127.0.0.1:1", "kit-tests"), "kit-tests")
    consumer = f"kit-{uuid.uuid4().hex[:8]}"
    state = ConsumerState("kit-tests", "CHAT", consumer, 7, 3, 1, read_at=0.0)
    poller._states[consumer] = state
    CONSUMERS.add(poller)
    try:
        assert _gauge("coagent_jetstream_consumer_num_pending", consumer) == 7
        assert _gauge("coagent_jetstream_consumer_num_ack_pending", consumer) == 3
        assert _gauge("coagent_jetstream_consumer_num_redelivered", consumer) == 1
        age = _gauge("coagent_jetstream_consumer_info_age_seconds", consumer)
        assert age is not None
        assert age > 0
    finally:
        CONSUMERS.discard(poller)
    assert _gauge("coagent_jetstream_consumer_num_pending", consumer) is None


async def test_a_broker_that_is_not_connected_counts_errors_and_scrapes_still_work() -> None:
    consumer = f"kit-{uuid.uuid4().hex[:8]}"
    broker = create_broker("nats://127.0.0.1:1", "kit-tests")
    subscribe_event(broker, MessagePostedV1, consumer, _ignore)
    poller = ConsumerInfoPoller(broker, "kit-tests")
    poller.start()
    try:
        await eventually(
            lambda: _async(_errors(consumer, "disconnected") >= 1), "an error counted", 5.0
        )
        assert b"coagent_jetstream_consumer_num_pending" in generate_latest(REGISTRY)
        assert poller.states() == []
    finally:
        await poller.stop()


async def _async(value: bool) -> bool:
    return value


# ------------------------------------------------------------------ real NATS


@pytest.mark.integration
async def test_unacked_messages_show_as_ack_pending_and_pending(
    real_broker: Callable[[], NatsBroker],
    streams: str,
    js: JetStreamContext,
    make_posted: MakePosted,
    durable: str,
) -> None:
    room = f"room-{uuid.uuid4().hex[:12]}"
    release = asyncio.Event()
    entered: list[str] = []

    async def held(event: MessagePostedV1) -> None:
        entered.append(event.event_id)
        await release.wait()

    publisher = real_broker()
    await start_broker(publisher, streams, wait_s=2.0)
    for _ in range(10):
        await publish_event(publisher, make_posted(room_id=room))
    broker = real_broker()
    subscribe_event(
        broker,
        MessagePostedV1,
        durable,
        held,
        filter_subject=message_posted_subject(room),
        batch_size=4,
    )
    await start_broker(broker, streams, wait_s=2.0)
    poller = ConsumerInfoPoller(broker, "kit-tests", interval_s=0.2)
    poller.start()
    try:
        # The handlers hold the first fetched batch; the rest waits on the server.
        await eventually(lambda: _async(len(entered) == 4), "a batch in the handlers", 10.0)

        async def shown() -> bool:
            return _gauge("coagent_jetstream_consumer_num_ack_pending", durable) == 4

        await eventually(shown, "ack-pending exported", 10.0)
        assert _gauge("coagent_jetstream_consumer_num_pending", durable) == 6
        assert _gauge("coagent_jetstream_consumer_num_redelivered", durable) == 0

        release.set()

        async def drained() -> bool:
            return _gauge("coagent_jetstream_consumer_num_pending", durable) == 0 and (
                _gauge("coagent_jetstream_consumer_num_ack_pending", durable) == 0
            )

        await eventually(drained, "the queue drained", 15.0)
        assert len(entered) == 10
    finally:
        await poller.stop()
        release.set()
    await broker.stop()
    await js.delete_consumer(CHAT.name, durable)


@pytest.mark.integration
async def test_a_consumer_missing_on_the_server_is_not_reported(
    real_broker: Callable[[], NatsBroker], streams: str, durable: str
) -> None:
    broker = real_broker()
    subscribe_event(broker, MessagePostedV1, durable, _ignore)
    await broker.connect()  # connected, but its subscribers (the consumer) never started
    poller = ConsumerInfoPoller(broker, "kit-tests")
    poller._states[durable] = ConsumerState("kit-tests", "CHAT", durable, 1, 1, 0, read_at=0.0)
    await poller.refresh()
    assert poller.states() == []
    assert _errors(durable, "not_found") == 1


@pytest.mark.integration
async def test_a_redelivered_message_is_counted_for_its_consumer(
    real_broker: Callable[[], NatsBroker],
    streams: str,
    js: JetStreamContext,
    make_posted: MakePosted,
    durable: str,
) -> None:
    event = make_posted()
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
    await eventually(lambda: _async(len(attempts) == 2), "the retry handled", 10.0)
    assert _redeliveries(durable) == 1
    await broker.stop()
    await js.delete_consumer(CHAT.name, durable)
