"""Conformance of the BuildStatusStore port: the in-memory adapter and Redis behave alike.

The ``redis`` case needs the real server (``-m integration``); the memory case runs everywhere,
so the fake the unit tests rely on is held to the same behaviour as the Lua script.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis

from coagent_graphrag_query.adapters.memory import MemoryBuildStatusStore
from coagent_graphrag_query.adapters.redis import RedisBuildStatusStore
from coagent_graphrag_query.domain import JobOutcome, JobStatus
from coagent_graphrag_query.ports import BuildStatusStore

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[BuildStatusStore]:
    if request.param == "memory":
        yield MemoryBuildStatusStore()
        return
    client = Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisBuildStatusStore(client)
    finally:
        await client.aclose()


def room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


def event_id() -> str:
    return str(uuid.uuid4())


def outcome(
    room_id: str,
    job_id: str,
    ended_at: datetime = T0,
    status: JobStatus = "succeeded",
    counts: tuple[int, int, int] = (3, 2, 1),
) -> JobOutcome:
    error = "extractor timed out" if status == "failed" else None
    return JobOutcome(room_id, job_id, status, *counts, error, ended_at)


async def test_nothing_before_the_first_job(store: BuildStatusStore) -> None:
    assert await store.get(room()) is None


async def test_the_first_job_sets_everything(store: BuildStatusStore) -> None:
    room_id = room()
    assert await store.apply(event_id(), outcome(room_id, "j-1")) is True

    status = await store.get(room_id)

    assert status is not None
    assert (status.room_id, status.last_job_id, status.status, status.error) == (
        room_id,
        "j-1",
        "succeeded",
        None,
    )
    assert (status.entities, status.relations, status.chunks) == (3, 2, 1)
    assert (status.jobs_succeeded, status.jobs_failed) == (1, 0)
    assert status.updated_at == T0
    assert status.updated_at.utcoffset() == timedelta(0)


async def test_an_event_is_applied_once(store: BuildStatusStore) -> None:
    room_id, eid = room(), event_id()
    await store.apply(eid, outcome(room_id, "j-1"))

    assert await store.apply(eid, outcome(room_id, "j-1")) is False

    status = await store.get(room_id)
    assert status is not None
    assert (status.entities, status.jobs_succeeded) == (3, 1)


async def test_counts_add_up_and_the_latest_job_is_current(store: BuildStatusStore) -> None:
    room_id = room()
    await store.apply(event_id(), outcome(room_id, "j-1", T0, "failed", (0, 0, 0)))
    later = T0 + timedelta(minutes=1)
    await store.apply(event_id(), outcome(room_id, "j-2", later, counts=(5, 4, 2)))

    status = await store.get(room_id)

    assert status is not None
    assert (status.last_job_id, status.status, status.error, status.updated_at) == (
        "j-2",
        "succeeded",
        None,
        later,
    )
    assert (status.entities, status.relations, status.chunks) == (5, 4, 2)
    assert (status.jobs_succeeded, status.jobs_failed) == (1, 1)


async def test_a_late_older_outcome_counts_but_does_not_become_current(
    store: BuildStatusStore,
) -> None:
    room_id = room()
    await store.apply(event_id(), outcome(room_id, "j-2", T0))
    await store.apply(event_id(), outcome(room_id, "j-1", T0 - timedelta(seconds=1), "failed"))

    status = await store.get(room_id)

    assert status is not None
    assert (status.last_job_id, status.status, status.error, status.updated_at) == (
        "j-2",
        "succeeded",
        None,
        T0,
    )
    assert (status.jobs_succeeded, status.jobs_failed, status.entities) == (1, 1, 6)


async def test_a_failure_is_current_with_its_error(store: BuildStatusStore) -> None:
    room_id = room()
    await store.apply(event_id(), outcome(room_id, "j-1", T0))
    await store.apply(event_id(), outcome(room_id, "j-2", T0 + timedelta(seconds=1), "failed"))

    status = await store.get(room_id)

    assert status is not None
    assert (status.status, status.error) == ("failed", "extractor timed out")


async def test_other_offsets_are_normalised_to_utc(store: BuildStatusStore) -> None:
    room_id = room()
    paris = T0.astimezone(timezone(timedelta(hours=1)))
    await store.apply(event_id(), outcome(room_id, "j-1", paris))

    status = await store.get(room_id)

    assert status is not None
    assert status.updated_at == T0


async def test_rooms_are_kept_apart(store: BuildStatusStore) -> None:
    room_a, room_b = room(), room()
    await store.apply(event_id(), outcome(room_a, "j-a"))
    await store.apply(event_id(), outcome(room_b, "j-b", counts=(1, 1, 1)))

    a, b = await store.get(room_a), await store.get(room_b)

    assert a is not None
    assert b is not None
    assert (a.last_job_id, a.entities) == ("j-a", 3)
    assert (b.last_job_id, b.entities) == ("j-b", 1)
