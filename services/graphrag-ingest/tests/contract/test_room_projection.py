"""The room projection and the forgetting of deleted rooms, on memory adapters and on real
PostgreSQL + FalkorDB alike (the ``real`` case needs the embedded servers: ``-m integration``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from sqlalchemy import delete, pool
from sqlalchemy.ext.asyncio import create_async_engine

from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_contracts.gateway import RoomChangedData, RoomChangedV1
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.adapters.offline_extractor import OfflineExtractor
from coagent_graphrag_ingest.adapters.postgres import PostgresUnitOfWork, ingest_rooms, outbox
from coagent_graphrag_ingest.pipeline import RoomIngestor
from coagent_graphrag_ingest.ports import UnitOfWork, UnitOfWorkFactory
from coagent_graphrag_ingest.room_consumers import register_room_consumers
from coagent_graphrag_ingest.rooms import RoomProjection
from coagent_graphrag_ingest.service import IngestService
from coagent_graphstore.adapters.falkordb import FalkorVectorIndex, falkordb_graph_store
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Community, CommunityReport, Scope
from coagent_graphstore.ports import GraphStore, VectorIndex
from coagent_kit.broker import publish_event
from coagent_kit.db import session_factory

DIMENSION = 64
T0 = datetime(2026, 11, 1, tzinfo=UTC)
REPORT = CommunityReport("Storage", "Ada picked PostgreSQL.", rating=5.0)


@dataclass
class World:
    uow: UnitOfWorkFactory
    graph: GraphStore
    vectors: VectorIndex
    locked: list[str] = field(default_factory=list)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        embedder = FeatureHashingEmbedder(DIMENSION)
        self.service = IngestService(self.uow)
        self.ingestor = RoomIngestor(
            self.uow, self.graph, self.vectors, embedder, OfflineExtractor(), max_chars=400
        )
        self.projection = RoomProjection(self.uow, self.graph, self.vectors, self._lock)
        self.doomed, self.kept = f"room-a-{self.tag}", f"room-b-{self.tag}"
        self._seq = 0

    @asynccontextmanager
    async def _lock(self, room_id: str) -> AsyncIterator[None]:
        self.locked.append(room_id)
        yield

    async def post(self, room: str, text: str) -> str | None:
        self._seq += 1
        event = MessagePostedV1(
            producer="chat",
            data=MessagePostedData(
                message_id=f"m-{uuid.uuid4().hex[:10]}", room_id=room, seq=self._seq,
                sender_kind="human", sender_name="Ada", content=text,
                created_at=datetime.now(UTC),
            ),
        )  # fmt: skip
        job = await self.service.record_message(event)
        return None if job is None else job.job_id

    async def stats(self, room: str) -> tuple[int, int, int, int]:
        s = await self.graph.stats(Scope(room))
        return s.entities, s.relations, s.chunks, s.communities


def room_event(room: str, course: str, *, deleted: bool = False, at: int = 0) -> RoomChangedV1:
    return RoomChangedV1(
        producer="gateway",
        occurred_at=T0 + timedelta(minutes=at),
        data=RoomChangedData(room_id=room, course_id=course, deleted=deleted),
    )


@pytest.fixture(params=["memory", pytest.param("real", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str] | None:
    """None for memory, else (database url, graph url); sync, as migrating runs its own loop."""
    if request.param == "memory":
        return None
    url = request.getfixturevalue("service_database_url")("graphrag-ingest")
    return url, request.getfixturevalue("graph_url")


@pytest.fixture
async def world(backend: tuple[str, str] | None) -> AsyncIterator[World]:
    if backend is None:
        store = MemoryStore()
        yield World(lambda: MemoryUnitOfWork(store), MemoryGraphStore(),
                    MemoryVectorIndex(DIMENSION))  # fmt: skip
        return
    url, graph_url = backend
    engine = create_async_engine(url, poolclass=pool.NullPool)
    sessions = session_factory(engine)

    def uow() -> UnitOfWork:
        return PostgresUnitOfWork(sessions, lambda: None)

    prefix = f"test-rooms-{uuid.uuid4().hex[:8]}"
    graph = falkordb_graph_store(graph_url, prefix=f"{prefix}-kg")
    vectors = FalkorVectorIndex(graph_url, DIMENSION, prefix=f"{prefix}-vec")
    world = World(uow, graph, vectors)
    try:
        yield world
    finally:
        async with engine.begin() as conn:  # no relay runs here: drop what would be sent
            await conn.execute(delete(outbox).where(outbox.c.payload.contains(world.tag)))
            await conn.execute(
                delete(ingest_rooms).where(ingest_rooms.c.room_id.contains(world.tag))
            )
        for room in (world.doomed, world.kept):
            await graph.purge(Scope(room))
            await vectors.purge(Scope(room))
        await graph.close()
        await vectors.close()
        await engine.dispose()


async def fill(world: World) -> None:
    for room in (world.doomed, world.kept):
        await world.projection.on_room_changed(room_event(room, "course-x"))
        assert await world.post(room, "Ada stores the Leiden results in PostgreSQL.")
        assert await world.post(room, "Grace reviews the Query Planner with Ada.")
        await world.ingestor.ingest(room)
        await world.graph.replace_communities(
            Scope(room), [Community("c-1", 0, ("ada",), None, REPORT)]
        )
        entities, relations, chunks, communities = await world.stats(room)
        assert entities
        assert relations
        assert chunks
        assert communities == 1


async def test_a_deleted_room_loses_its_whole_partition_and_only_its_own(world: World) -> None:
    await fill(world)
    room = await world.projection.on_room_changed(
        room_event(world.doomed, "course-x", deleted=True, at=5)
    )
    assert (room.deleted, room.course_id) == (True, "course-x")
    assert world.locked == [world.doomed]  # held against passes while it went
    assert await world.stats(world.doomed) == (0, 0, 0, 0)
    probe = FeatureHashingEmbedder(DIMENSION).embed(["Ada PostgreSQL Leiden"])[0]
    assert await world.vectors.search(Scope(world.doomed), probe, k=10) == []
    async with world.uow() as uow:
        assert await uow.jobs.list_for_room(world.doomed, 10) == []
        assert await uow.sources.for_room(world.doomed) == []
        assert await uow.extractions.chunk_ids(world.doomed) == set()
        # The other room of the course keeps everything.
        assert len(await uow.jobs.list_for_room(world.kept, 10)) == 2
        assert await uow.extractions.chunk_ids(world.kept)
    entities, _, chunks, communities = await world.stats(world.kept)
    assert entities
    assert chunks
    assert communities == 1
    assert await world.vectors.search(Scope(world.kept), probe, k=10)


async def test_a_deleted_rooms_late_messages_and_events_change_nothing(world: World) -> None:
    await fill(world)
    await world.projection.on_room_changed(room_event(world.doomed, "course-x", deleted=True, at=5))
    # A message posted just before the deletion but delivered after it is not knowledge.
    assert await world.post(world.doomed, "Ada moves everything to Redis.") is None
    report = await world.ingestor.ingest(world.doomed)
    assert (report.chunks, report.extracted) == (0, 0)
    assert await world.stats(world.doomed) == (0, 0, 0, 0)
    # An older change delivered late, or a redelivered deletion, neither revives nor fails.
    stale = await world.projection.on_room_changed(room_event(world.doomed, "course-y", at=3))
    again = await world.projection.on_room_changed(
        room_event(world.doomed, "course-x", deleted=True, at=5)
    )
    assert (stale.deleted, stale.course_id) == (True, "course-x")
    assert again == await world.projection.get(world.doomed)


async def test_the_projection_keeps_each_rooms_newest_course(world: World) -> None:
    room = world.kept
    assert await world.projection.get(room) is None
    await world.projection.on_room_changed(room_event(room, "course-x", at=1))
    await world.projection.on_room_changed(room_event(room, "course-y", at=3))
    await world.projection.on_room_changed(room_event(room, "course-z", at=2))  # out of order
    seen = await world.projection.get(room)
    assert seen is not None
    assert (seen.course_id, seen.deleted) == ("course-y", False)
    assert world.locked == []  # only deletions hold the room
    # A message of a live room is recorded as ever.
    assert await world.post(room, "Ada likes graphs.") is not None


async def test_room_events_reach_the_projection_through_the_consumer() -> None:
    store = MemoryStore()
    graph, vectors = MemoryGraphStore(), MemoryVectorIndex(DIMENSION)
    projection = RoomProjection(lambda: MemoryUnitOfWork(store), graph, vectors)
    broker = NatsBroker()
    register_room_consumers(broker, projection)
    async with TestNatsBroker(broker) as test_broker:
        event = room_event("room-1", "course-x", deleted=True)
        await publish_event(test_broker, event)
    seen = await projection.get("room-1")
    assert seen is not None
    assert (seen.course_id, seen.deleted) == ("course-x", True)
