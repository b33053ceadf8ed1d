"""The IngestCompletedV1 consumer, driven through FastStream's in-memory NATS test broker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from faststream.nats.testing import PatchedMessage
from prometheus_client import REGISTRY

from coagent_contracts.graphrag import IngestCompletedData, IngestCompletedV1
from coagent_contracts.streams import GRAPHRAG
from coagent_graphrag_query.adapters.memory import MemoryBuildStatusStore
from coagent_graphrag_query.consumers import register_consumers
from coagent_graphrag_query.service import BUILD_STATUS_CONSUMER, QueryService
from coagent_kit.broker import publish_event

SUBJECT = "graphrag.room.room-1.ingest.completed.v1"


def completed(job_id: str = "j-1") -> IngestCompletedV1:
    return IngestCompletedV1(
        producer="graphrag-ingest",
        data=IngestCompletedData(
            room_id="room-1", job_id=job_id, status="succeeded", entities=2, relations=1
        ),
    )


def dead_letters() -> float:
    labels = {"consumer": BUILD_STATUS_CONSUMER, "reason": "invalid"}
    return REGISTRY.get_sample_value("coagent_dead_letters_total", labels) or 0.0


@pytest.fixture
def store() -> MemoryBuildStatusStore:
    return MemoryBuildStatusStore()


@pytest.fixture
async def broker(store: MemoryBuildStatusStore) -> AsyncIterator[NatsBroker]:
    broker = NatsBroker()
    register_consumers(broker, QueryService(store))
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


async def test_a_finished_job_updates_the_rooms_build_status(
    broker: NatsBroker, store: MemoryBuildStatusStore
) -> None:
    event = completed()

    await publish_event(broker, event)

    status = store.statuses["room-1"]
    assert (status.last_job_id, status.status, status.entities, status.relations) == (
        "j-1",
        "succeeded",
        2,
        1,
    )
    assert store.applied == {event.event_id}


async def test_a_redelivered_event_is_counted_once(
    broker: NatsBroker, store: MemoryBuildStatusStore
) -> None:
    event = completed()
    await publish_event(broker, event)
    await publish_event(broker, event)
    assert store.statuses["room-1"].jobs_succeeded == 1


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not even text",
        completed().model_dump_json().replace('"succeeded"', '"failed"').encode(),
        completed().model_dump_json().replace('"entities":2', '"entities":-2').encode(),
    ],
    ids=["garbage", "failed-without-error", "negative-count"],
)
async def test_an_invalid_payload_is_terminated_and_the_consumer_carries_on(
    broker: NatsBroker, store: MemoryBuildStatusStore, terminated: list[bytes], body: bytes
) -> None:
    before = dead_letters()

    await broker.publish(body, SUBJECT, stream=GRAPHRAG.name)
    await publish_event(broker, completed("j-after"))

    assert terminated == [body]
    assert dead_letters() == before + 1
    assert store.statuses["room-1"].last_job_id == "j-after"
    assert store.statuses["room-1"].jobs_succeeded == 1
