"""Ingest use cases on the in-memory adapters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from coagent_contracts.chat import (
    ArtifactChangedData,
    ArtifactChangedV1,
    ArtifactDeletedData,
    ArtifactDeletedV1,
    MessagePostedData,
    MessagePostedV1,
    MessagesErasedData,
    MessagesErasedV1,
)
from coagent_contracts.graphrag import IngestRequestedV1
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.domain import InvalidIngestJob, NewIngestJob
from coagent_graphrag_ingest.service import MAX_PAGE, IngestService


def posted(room_id: str = "room-1", message_id: str = "m-1", **envelope: str) -> MessagePostedV1:
    return MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id=message_id,
            room_id=room_id,
            seq=1,
            sender_kind="human",
            sender_id="u-1",
            content="Ada proposes the graph schema",
            created_at=datetime.now(UTC),
        ),
        **envelope,  # type: ignore[arg-type]
    )


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def service(store: MemoryStore) -> IngestService:
    return IngestService(lambda: MemoryUnitOfWork(store))


async def test_a_posted_message_becomes_a_pending_job_and_an_event(
    service: IngestService, store: MemoryStore
) -> None:
    event = posted(correlation_id="corr-1")

    job = await service.record_message(event)

    assert job is not None
    assert job.status == "pending"
    assert job.body == NewIngestJob("room-1", "message", "m-1", event.event_id)
    [requested] = store.published
    assert isinstance(requested, IngestRequestedV1)
    assert requested.subject == "graphrag.room.room-1.ingest.requested.v1"
    assert requested.data.job_id == job.job_id
    assert requested.data.source_event_id == event.event_id
    assert requested.causation_id == event.event_id
    assert requested.correlation_id == "corr-1"


async def test_the_first_event_of_a_chain_is_its_correlation_id(
    service: IngestService, store: MemoryStore
) -> None:
    event = posted()
    await service.record_message(event)
    assert store.published[0].correlation_id == event.event_id


async def test_a_redelivered_event_creates_nothing_new(
    service: IngestService, store: MemoryStore
) -> None:
    event = posted()
    first = await service.record_message(event)

    again = await service.record_message(event)

    assert first is not None
    assert again is None
    assert [j.job_id for j in store.jobs] == [first.job_id]
    assert len(store.published) == 1


async def test_each_message_gets_its_own_job(service: IngestService, store: MemoryStore) -> None:
    await service.record_message(posted(message_id="m-1"))
    await service.record_message(posted(message_id="m-2"))
    assert {j.body.source_id for j in store.jobs} == {"m-1", "m-2"}
    assert len(store.published) == 2


async def test_jobs_are_listed_per_room_newest_first_and_limited(service: IngestService) -> None:
    for n in range(3):
        await service.record_message(posted(room_id="room-a", message_id=f"a-{n}"))
    await service.record_message(posted(room_id="room-b", message_id="b-0"))

    listed = await service.jobs("room-a", limit=2)

    assert [j.body.source_id for j in listed] == ["a-2", "a-1"]
    assert await service.jobs("room-empty") == []


async def test_the_page_size_is_clamped(service: IngestService) -> None:
    await service.record_message(posted())
    assert len(await service.jobs("room-1", limit=0)) == 1
    assert len(await service.jobs("room-1", limit=MAX_PAGE * 10)) == 1


def test_a_job_needs_ids_that_fit_their_columns() -> None:
    with pytest.raises(InvalidIngestJob):
        NewIngestJob("room-1", "message", "", "e-1")
    with pytest.raises(InvalidIngestJob):
        NewIngestJob("room-1", "message", "m-1", "e" * 65)


def test_a_job_needs_a_known_source_kind() -> None:
    with pytest.raises(InvalidIngestJob):
        NewIngestJob("room-1", "email", "m-1", "e-1")  # type: ignore[arg-type]


def erased(room_id: str, *message_ids: str) -> MessagesErasedV1:
    return MessagesErasedV1(
        producer="chat",
        data=MessagesErasedData(room_id=room_id, message_ids=message_ids, reason="forgotten"),
    )


async def test_erased_messages_drop_their_jobs_and_nothing_else(
    service: IngestService, store: MemoryStore
) -> None:
    await service.record_message(posted("room-1", "m-1"))
    await service.record_message(posted("room-1", "m-2"))
    await service.record_message(posted("room-2", "m-1"))  # same id, another room: kept

    assert await service.forget_messages(erased("room-1", "m-1", "m-9")) == 1
    assert await service.forget_messages(erased("room-1", "m-1")) == 0  # redelivered: no-op

    left = {(j.body.room_id, j.body.source_id) for j in store.jobs}
    assert left == {("room-1", "m-2"), ("room-2", "m-1")}


async def test_a_post_delivered_after_its_tombstone_is_ignored(
    service: IngestService, store: MemoryStore
) -> None:
    # The posted and erased events reach ingest through separate consumers, in either order.
    await service.forget_messages(erased("room-1", "m-1"))

    assert await service.record_message(posted("room-1", "m-1")) is None
    assert store.jobs == []
    assert store.sources == {}
    assert store.published == []
    # Another room's message with the same id is its own message.
    assert await service.record_message(posted("room-2", "m-1")) is not None


async def test_a_replayed_post_does_not_revive_an_erased_message(
    service: IngestService, store: MemoryStore
) -> None:
    first = posted("room-1", "m-1")
    await service.record_message(first)
    await service.forget_messages(erased("room-1", "m-1"))

    # The job row went with the tombstone, so only the remembered id stops the replay.
    assert await service.record_message(first) is None
    assert store.jobs == []
    assert ("room-1", "m-1") not in store.sources


def artifact_changed(room_id: str, artifact_id: str, version: int = 1) -> ArtifactChangedV1:
    return ArtifactChangedV1(
        producer="chat",
        data=ArtifactChangedData(
            artifact_id=artifact_id,
            room_id=room_id,
            artifact_type="task",
            title="Draft the schema",
            content={"status": "todo"},
            version=version,
        ),
    )


async def test_artifact_revisions_become_jobs_and_a_deletion_drops_them(
    service: IngestService, store: MemoryStore
) -> None:
    first = await service.record_artifact(artifact_changed("room-1", "a-1"))
    await service.record_artifact(artifact_changed("room-1", "a-1", version=2))
    await service.record_artifact(artifact_changed("room-1", "a-2"))
    assert first is not None
    assert first.body.source_kind == "artifact"
    assert [type(e) for e in store.published] == [IngestRequestedV1] * 3

    deleted = ArtifactDeletedV1(
        producer="chat", data=ArtifactDeletedData(artifact_id="a-1", room_id="room-1")
    )
    assert await service.forget_artifact(deleted) == 2
    assert {j.body.source_id for j in store.jobs} == {"a-2"}
    # A deleted artifact may be restored: its next revision is knowledge again.
    assert await service.record_artifact(artifact_changed("room-1", "a-1", version=3)) is not None
