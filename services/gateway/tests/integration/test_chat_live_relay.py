"""Presence leases in real Redis; live frames and revocations between two hubs over real NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import nats
import pytest
from redis.asyncio import Redis

from coagent_contracts.chat import ArtifactChangedData, ArtifactChangedV1
from coagent_contracts.gateway import MembershipChangedData, MembershipChangedV1
from coagent_contracts.graphrag import GraphBuildProgressData, GraphBuildProgressV1
from coagent_contracts.workflow import RunStartedData, RunStartedV1
from coagent_gateway.chat.live import REVOKED, Outbox, RoomHub
from coagent_gateway.chat.presence import (
    PresenceEntry,
    RedisPresenceStore,
    RedisTypingLimiter,
    typing_frame,
)
from coagent_kit.broker import create_broker, ensure_streams, publish_event, start_broker

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def hubs(nats_url: str, redis: Redis) -> AsyncIterator[tuple[RoomHub, RoomHub]]:
    """Two gateway processes' hubs sharing NATS and Redis."""
    await ensure_streams(nats_url)
    pair = tuple(
        RoomHub(nats_url, RedisPresenceStore(redis), RedisTypingLimiter(redis)) for _ in range(2)
    )
    for hub in pair:
        await hub.start()
    yield pair[0], pair[1]
    for hub in pair:
        await hub.stop()


async def _deny() -> bool:
    return False


async def _next_of(outbox: Outbox, kind: str) -> dict[str, Any]:
    while True:
        item = await asyncio.wait_for(outbox.next(), 15)  # generous: CI machines are busy
        assert item is not None
        if item[1].get("type") == kind:
            return item[1]


async def test_redis_presence_leases_expire(redis: Redis) -> None:
    store = RedisPresenceStore(redis)
    room = uuid.uuid4().hex
    await store.touch(room, PresenceEntry("s1", "u1", "Ada"), ttl_s=1)
    await store.touch(room, PresenceEntry("s2", "u1", "Ada"), ttl_s=30)
    await store.touch(room, PresenceEntry("s3", "u2", "Bob"), ttl_s=30)
    assert [u["name"] for u in await store.members(room)] == ["Ada", "Bob"]
    await store.drop(room, PresenceEntry("s2", "u1", "Ada"))
    assert [u["name"] for u in await store.members(room)] == ["Ada", "Bob"]  # s1 is still alive
    await asyncio.sleep(1.2)
    assert await store.members(room) == [{"user_id": "u2", "name": "Bob"}]
    assert 0 < await redis.ttl(RedisPresenceStore.key(room)) <= 31


async def test_redis_typing_limit(redis: Redis) -> None:
    limiter = RedisTypingLimiter(redis, interval_s=0.5)
    room = uuid.uuid4().hex
    assert await limiter.allow(room, "u1")
    assert not await limiter.allow(room, "u1")
    assert await limiter.allow(room, "u2")
    await asyncio.sleep(0.6)
    assert await limiter.allow(room, "u1")


async def test_presence_and_typing_cross_gateway_processes(hubs: tuple[RoomHub, RoomHub]) -> None:
    first, second = hubs
    room = uuid.uuid4().hex
    bob = Outbox()
    await second.enter(room, bob, "u2", "Bob")
    assert (await _next_of(bob, "presence"))["users"] == [{"user_id": "u2", "name": "Bob"}]
    ada = await first.enter(room, Outbox(), "u1", "Ada")
    names = [u["name"] for u in (await _next_of(bob, "presence"))["users"]]
    assert names == ["Ada", "Bob"]
    assert await first.typing(ada)
    assert await _next_of(bob, "typing") == typing_frame(room, "u1", "Ada")
    await first.exit(ada)
    assert (await _next_of(bob, "presence"))["users"] == [{"user_id": "u2", "name": "Bob"}]


async def test_a_removal_event_revokes_the_socket_on_another_process(
    hubs: tuple[RoomHub, RoomHub], nats_url: str
) -> None:
    _, second = hubs
    room = uuid.uuid4().hex
    outbox = Outbox()
    listener = second.join(room, outbox, "u1", "Ada", _deny)
    await asyncio.sleep(0.2)  # the ordered consumer delivers only new events
    event = MembershipChangedV1(
        producer="gateway",
        occurred_at=datetime.now(UTC),
        data=MembershipChangedData(room_id=room, user_id="u1", change="removed"),
    )
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(event.subject, event.model_dump_json().encode())
    finally:
        await nc.close()
    assert await asyncio.wait_for(outbox.next(), 5) == (f"room:{room}", REVOKED)
    assert listener.revoked


async def test_artifact_and_run_events_reach_the_rooms_sockets(
    hubs: tuple[RoomHub, RoomHub], nats_url: str
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:10]}"
    outbox = Outbox()
    hubs[1].join(room_id, outbox)
    broker = create_broker(nats_url, "test-producer")
    await start_broker(broker, nats_url, 5.0)
    try:
        await publish_event(
            broker,
            ArtifactChangedV1(
                producer="chat",
                data=ArtifactChangedData(
                    artifact_id="a1",
                    room_id=room_id,
                    artifact_type="doc",
                    title="Notes",
                    content={},
                    version=2,
                    changed_by="u1",
                ),
            ),
        )
        await publish_event(
            broker,
            RunStartedV1(
                producer="workflow-engine",
                data=RunStartedData(
                    run_id=uuid.uuid4().hex, workflow_id="wf", workflow_version=1, room_id=room_id
                ),
            ),
        )
        artifact = await _next_of(outbox, "artifact_update")
        trace = await _next_of(outbox, "workflow_trace")
    finally:
        await broker.stop()
    assert artifact["artifact"]["id"] == "a1"
    assert artifact["artifact"]["version"] == 2
    assert trace["event_type"] == "run_started"


async def test_graph_build_progress_reaches_the_rooms_sockets(
    hubs: tuple[RoomHub, RoomHub], nats_url: str
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:10]}"
    outbox = Outbox()
    hubs[0].join(room_id, outbox)
    broker = create_broker(nats_url, "test-producer")
    await start_broker(broker, nats_url, 5.0)
    data = GraphBuildProgressData(
        room_id=room_id, build_id="b-1", attempt=2, step=4, stage="reports", status="running",
        done=1, total=4, communities=4,
    )  # fmt: skip
    try:
        await publish_event(broker, GraphBuildProgressV1(producer="graphrag-ingest", data=data))
        frame = await _next_of(outbox, "graph_build")
    finally:
        await broker.stop()
    fields = ("room_id", "build_id", "attempt", "step", "stage", "status", "progress")
    assert {k: frame[k] for k in fields} == {
        "room_id": room_id, "build_id": "b-1", "attempt": 2, "step": 4, "stage": "reports",
        "status": "running", "progress": 0.625,
    }  # fmt: skip
    assert "content" not in frame
    assert "sender" not in frame
