"""Conformance of the UnitOfWork port: the in-memory adapter and PostgreSQL behave alike.

The ``postgres`` case needs the real server (``-m integration``); the memory case runs everywhere,
so the fake the unit tests rely on is held to the same behaviour as the real adapter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Protocol

import pytest
from sqlalchemy import delete, pool, select
from sqlalchemy.ext.asyncio import create_async_engine

from coagent_contracts.envelope import Event
from coagent_contracts.graphrag import IngestRequestedData, IngestRequestedV1
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.adapters.postgres import PostgresUnitOfWork, outbox
from coagent_graphrag_ingest.domain import NewIngestJob
from coagent_graphrag_ingest.ports import UnitOfWork
from coagent_kit.db import session_factory


class Harness(Protocol):
    def uow(self) -> UnitOfWork: ...

    async def published(self, event_ids: list[str]) -> set[str]:
        """Which of ``event_ids`` were committed for publication."""
        ...

    async def forget(self, event_ids: list[str]) -> None:
        """Drop committed events, so no outbox relay started later in the session sends them."""
        ...


class MemoryHarness:
    def __init__(self) -> None:
        self.store = MemoryStore()

    def uow(self) -> UnitOfWork:
        return MemoryUnitOfWork(self.store)

    async def published(self, event_ids: list[str]) -> set[str]:
        return {e.event_id for e in self.store.published} & set(event_ids)

    async def forget(self, event_ids: list[str]) -> None:
        self.store.published = [e for e in self.store.published if e.event_id not in event_ids]


class PostgresHarness:
    def __init__(self, url: str) -> None:
        # No pool: nothing outlives a test, so there is no engine to dispose of afterwards.
        self.engine = create_async_engine(url, poolclass=pool.NullPool)
        self.sessions = session_factory(self.engine)
        self.commits = 0

    def uow(self) -> UnitOfWork:
        return PostgresUnitOfWork(self.sessions, self._committed)

    def _committed(self) -> None:
        self.commits += 1

    async def published(self, event_ids: list[str]) -> set[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.event_id).where(outbox.c.event_id.in_(event_ids))
            )
            return set(rows.scalars())

    async def forget(self, event_ids: list[str]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(outbox).where(outbox.c.event_id.in_(event_ids)))


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    # A sync fixture on purpose: migrating runs its own event loop, which cannot nest in ours.
    if request.param == "memory":
        yield MemoryHarness()
        return
    url = request.getfixturevalue("service_database_url")("graphrag-ingest")
    yield PostgresHarness(url)


def new_job(room_id: str, source_event_id: str | None = None) -> NewIngestJob:
    return NewIngestJob(
        room_id=room_id,
        source_kind="message",
        source_id=f"m-{uuid.uuid4().hex[:8]}",
        source_event_id=source_event_id or str(uuid.uuid4()),
    )


def requested(room_id: str) -> Event:
    return IngestRequestedV1(
        producer="test",
        data=IngestRequestedData(
            room_id=room_id,
            job_id="j-1",
            source_kind="message",
            source_id="m-1",
            source_event_id="e-1",
        ),
    )


def room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


async def test_a_committed_job_is_listed(harness: Harness) -> None:
    room_id = room()
    async with harness.uow() as uow:
        job = await uow.jobs.add(new_job(room_id))
        await uow.commit()

    async with harness.uow() as uow:
        listed = await uow.jobs.list_for_room(room_id, 10)

    assert job is not None
    assert listed == [job]
    assert job.status == "pending"
    assert job.created_at.tzinfo is not None
    assert job.updated_at == job.created_at


async def test_a_second_job_for_the_same_source_event_is_refused(harness: Harness) -> None:
    room_id, source_event_id = room(), str(uuid.uuid4())
    async with harness.uow() as uow:
        first = await uow.jobs.add(new_job(room_id, source_event_id))
        await uow.commit()
    async with harness.uow() as uow:
        second = await uow.jobs.add(new_job(room_id, source_event_id))
        await uow.commit()

    async with harness.uow() as uow:
        listed = await uow.jobs.list_for_room(room_id, 10)

    assert first is not None
    assert second is None
    assert [j.job_id for j in listed] == [first.job_id]


async def test_nothing_is_kept_without_commit(harness: Harness) -> None:
    room_id, event = room(), requested("r")
    async with harness.uow() as uow:
        await uow.jobs.add(new_job(room_id))
        await uow.publish(event)

    async with harness.uow() as uow:
        assert await uow.jobs.list_for_room(room_id, 10) == []
    assert await harness.published([event.event_id]) == set()


async def test_events_are_queued_with_the_commit(harness: Harness) -> None:
    event = requested(room())
    try:
        async with harness.uow() as uow:
            await uow.publish(event)
            await uow.commit()
        assert await harness.published([event.event_id]) == {event.event_id}
        if isinstance(harness, PostgresHarness):
            assert harness.commits == 1  # the outbox relay is woken, not left to its poll
    finally:
        await harness.forget([event.event_id])


async def test_rooms_are_listed_apart_newest_first_and_limited(harness: Harness) -> None:
    room_a, room_b = room(), room()
    added = []
    for target in (room_a, room_a, room_b, room_a):
        # One transaction per job, as the consumer does, so creation times differ.
        async with harness.uow() as uow:
            job = await uow.jobs.add(new_job(target))
            await uow.commit()
        assert job is not None
        added.append(job)

    async with harness.uow() as uow:
        newest_two = await uow.jobs.list_for_room(room_a, 2)
        only_b = await uow.jobs.list_for_room(room_b, 10)

    assert [j.job_id for j in newest_two] == [added[3].job_id, added[1].job_id]
    assert [j.job_id for j in only_b] == [added[2].job_id]


async def test_erased_message_ids_are_remembered_per_room(harness: Harness) -> None:
    room_id, other = room(), room()
    for _ in range(2):  # a redelivered tombstone remembers the same ids again, harmlessly
        async with harness.uow() as uow:
            await uow.sources.remember_erased(room_id, ["m-1", "m-2"])
            await uow.commit()

    async with harness.uow() as uow:
        assert await uow.sources.was_erased(room_id, "m-1")
        assert await uow.sources.was_erased(room_id, "m-2")
        assert not await uow.sources.was_erased(room_id, "m-3")
        assert not await uow.sources.was_erased(other, "m-1")
