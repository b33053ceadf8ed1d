"""The MessagePostedV1 consumer, driven through FastStream's in-memory NATS test broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import structlog
from faststream.nats import NatsBroker, TestNatsBroker
from faststream.nats.testing import PatchedMessage
from prometheus_client import REGISTRY

from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_contracts.streams import CHAT
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.consumers import register_consumers
from coagent_graphrag_ingest.service import MESSAGES_CONSUMER, IngestService
from coagent_kit.broker import publish_event

SUBJECT = "chat.room.room-1.message.posted.v1"


def posted(message_id: str = "m-1") -> MessagePostedV1:
    return MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id=message_id,
            room_id="room-1",
            seq=1,
            sender_kind="human",
            content="Ada proposes the graph schema",
            created_at=datetime.now(UTC),
        ),
    )


def dead_letters() -> float:
    labels = {"consumer": MESSAGES_CONSUMER, "reason": "invalid"}
    return REGISTRY.get_sample_value("coagent_dead_letters_total", labels) or 0.0


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def broker(store: MemoryStore) -> AsyncIterator[NatsBroker]:
    broker = NatsBroker()
    register_consumers(broker, IngestService(lambda: MemoryUnitOfWork(store)))
    async with TestNatsBroker(broker) as test_broker:
        yield test_broker


@pytest.fixture
def terminated(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Bodies of the messages the consumer terminated (JetStream ``+TERM``)."""
    bodies: list[bytes] = []

    async def term(self: PatchedMessage) -> None:
        bodies.append(self.data)

    monkeypatch.setattr(PatchedMessage, "term", term)
    return bodies


async def test_a_posted_message_is_recorded_and_logged(
    broker: NatsBroker, store: MemoryStore
) -> None:
    event = posted()

    with structlog.testing.capture_logs() as logs:
        await publish_event(broker, event)

    [job] = store.jobs
    assert job.body.source_event_id == event.event_id
    assert job.body.source_id == "m-1"
    assert [e.data.job_id for e in store.published] == [job.job_id]  # type: ignore[attr-defined]
    [line] = [entry for entry in logs if entry["event"] == "ingest_job_recorded"]
    assert line["log_level"] == "info"
    assert (line["event_id"], line["room_id"], line["job_id"]) == (
        event.event_id,
        "room-1",
        job.job_id,
    )


async def test_a_redelivered_event_is_acknowledged_without_a_second_job(
    broker: NatsBroker, store: MemoryStore
) -> None:
    event = posted()
    await publish_event(broker, event)

    with structlog.testing.capture_logs() as logs:
        await publish_event(broker, event)

    assert len(store.jobs) == 1
    assert len(store.published) == 1
    assert not [entry for entry in logs if entry["event"] == "ingest_job_recorded"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b'{"type": "chat.message.posted", "version": 1}',
        posted().model_dump_json().replace('"room-1"', '"room.1"').encode(),
    ],
    ids=["garbage", "no-data", "bad-room-token"],
)
async def test_an_invalid_payload_is_terminated_and_the_consumer_carries_on(
    broker: NatsBroker, store: MemoryStore, terminated: list[bytes], body: bytes
) -> None:
    before = dead_letters()

    await broker.publish(body, SUBJECT, stream=CHAT.name)
    await publish_event(broker, posted("m-after"))

    assert terminated == [body]
    assert dead_letters() == before + 1
    assert [j.body.source_id for j in store.jobs] == ["m-after"]


async def test_a_failing_store_is_not_acknowledged(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    nacked: list[float | None] = []

    async def nak(self: PatchedMessage, delay: float | None = None) -> None:
        nacked.append(delay)

    async def broken_commit(self: MemoryUnitOfWork) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(PatchedMessage, "nak", nak)
    monkeypatch.setattr(MemoryUnitOfWork, "commit", broken_commit)
    broker = NatsBroker()
    register_consumers(broker, IngestService(lambda: MemoryUnitOfWork(store)))
    # A raw message has no JetStream metadata in the test broker; pretend it is the 1st delivery.
    monkeypatch.setattr("coagent_kit.broker._attempt", lambda _msg: 1)

    async with TestNatsBroker(broker) as test_broker:
        await publish_event(test_broker, posted())

    assert store.jobs == []
    assert len(nacked) == 1
    assert nacked[0] is not None
    assert nacked[0] > 0  # redelivered after a backoff, not at once
