"""The Redis build-status projection on the real FalkorDB-loaded Redis server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from coagent_graphrag_query.adapters.redis import (
    APPLIED_PREFIX,
    APPLIED_TTL_S,
    RedisBuildStatusStore,
    status_key,
)
from coagent_graphrag_query.domain import JobOutcome

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def outcome(room_id: str, job_id: str = "j-1") -> JobOutcome:
    ended_at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    return JobOutcome(room_id, job_id, "succeeded", 3, 2, 1, None, ended_at)


async def test_the_status_is_one_readable_hash_per_room(client: Redis) -> None:
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    await RedisBuildStatusStore(client).apply(str(uuid.uuid4()), outcome(room_id))

    fields = await client.hgetall(f"coagent:graphrag:build:{room_id}")

    assert status_key(room_id) == f"coagent:graphrag:build:{room_id}"
    assert fields["last_job_id"] == "j-1"
    assert fields["status"] == "succeeded"
    assert (fields["entities"], fields["relations"], fields["chunks"]) == ("3", "2", "1")
    assert (fields["jobs_succeeded"], fields["jobs_failed"]) == ("1", "0")
    assert fields["updated_at"] == "2026-03-01T09:30:00+00:00"
    assert "error" not in fields


async def test_applied_marks_expire_with_the_stream(client: Redis) -> None:
    event_id = str(uuid.uuid4())
    await RedisBuildStatusStore(client).apply(event_id, outcome(f"room-{uuid.uuid4().hex[:8]}"))

    ttl = await client.ttl(APPLIED_PREFIX + event_id)

    assert APPLIED_TTL_S - 60 < ttl <= APPLIED_TTL_S


async def test_concurrent_deliveries_of_one_event_apply_once(client: Redis) -> None:
    store = RedisBuildStatusStore(client)
    room_id, event_id = f"room-{uuid.uuid4().hex[:12]}", str(uuid.uuid4())

    results = await asyncio.gather(*(store.apply(event_id, outcome(room_id)) for _ in range(20)))

    assert results.count(True) == 1
    status = await store.get(room_id)
    assert status is not None
    assert (status.entities, status.jobs_succeeded) == (3, 1)
