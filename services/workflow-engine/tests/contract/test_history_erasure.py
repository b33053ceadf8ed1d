"""Chat's tombstones take erased messages out of the room history agents read, on the memory
adapter and on PostgreSQL alike, and a post delivered after its tombstone is not stored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine

from coagent_contracts.chat import (
    MessagePostedData,
    MessagePostedV1,
    MessagesErasedData,
    MessagesErasedV1,
)
from coagent_kit.broker import create_broker, publish_event
from coagent_kit.db import session_factory
from coagent_workflow_engine.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_workflow_engine.adapters.postgres_engine import PostgresEngineUnitOfWork
from coagent_workflow_engine.consumers import register_consumers
from coagent_workflow_engine.ports import UnitOfWorkFactory
from coagent_workflow_engine.service import WorkflowEngineService
from coagent_workflow_engine.workflows.service import WorkflowService


def posted(room_id: str, message_id: str, seq: int) -> MessagePostedV1:
    return MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id=message_id,
            room_id=room_id,
            seq=seq,
            sender_kind="human",
            sender_id="u-1",
            content=f"message {seq}",
            created_at=datetime.now(UTC),
        ),
    )


def erased(room_id: str, *message_ids: str) -> MessagesErasedV1:
    return MessagesErasedV1(
        producer="chat",
        data=MessagesErasedData(room_id=room_id, message_ids=message_ids, reason="forgotten"),
    )


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def units(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    # A sync fixture on purpose: migrating runs its own event loop, which cannot nest in ours.
    if request.param == "memory":
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)
    url = request.getfixturevalue("service_database_url")("workflow-engine")
    # No pool: nothing outlives a test, so there is no engine to dispose of afterwards.
    sessions = session_factory(create_async_engine(url, poolclass=pool.NullPool))
    return lambda: PostgresEngineUnitOfWork(sessions, lambda: None)


async def _contents(units: UnitOfWorkFactory, room_id: str) -> list[str]:
    async with units() as uow:
        return [m.content for m in await uow.history.recent(room_id, 10)]


async def test_erased_messages_leave_the_history_and_stay_out(units: UnitOfWorkFactory) -> None:
    engine_service = WorkflowEngineService(units)
    room, other = f"room-{uuid.uuid4().hex[:8]}", f"room-{uuid.uuid4().hex[:8]}"
    first, second = posted(room, "m-1", 1), posted(room, "m-2", 2)
    for event in (first, second, posted(other, "m-1", 1)):
        assert await engine_service.record_room_message(event)

    assert await engine_service.erase_room_messages(erased(room, "m-1", "m-9")) == 1
    assert await engine_service.erase_room_messages(erased(room, "m-1")) == 0  # redelivered

    assert await _contents(units, room) == ["message 2"]
    assert await _contents(units, other) == ["message 1"]  # same id, another room
    # A replayed post, or one that arrives after its tombstone, is not stored again.
    assert not await engine_service.record_room_message(first)
    late = posted(room, "m-3", 3)
    await engine_service.erase_room_messages(erased(room, "m-3"))
    assert not await engine_service.record_room_message(late)
    assert await _contents(units, room) == ["message 2"]


@pytest.fixture
async def broker(store: MemoryStore, service: WorkflowEngineService) -> AsyncIterator[NatsBroker]:
    real = create_broker("nats://127.0.0.1:4222", "workflow-engine")
    register_consumers(real, service, WorkflowService(lambda: MemoryUnitOfWork(store)))
    async with TestNatsBroker(real) as test_broker:
        yield test_broker


async def test_the_consumer_applies_chats_tombstones(
    broker: NatsBroker, store: MemoryStore
) -> None:
    await publish_event(broker, posted("r1", "m-1", 1))
    await publish_event(broker, posted("r1", "m-2", 2))

    await publish_event(broker, erased("r1", "m-2"))

    assert await _contents(lambda: MemoryUnitOfWork(store), "r1") == ["message 1"]
