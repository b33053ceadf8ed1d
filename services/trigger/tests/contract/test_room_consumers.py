"""The gateway's room events fed through FastStream's in-memory test broker: the projection and
the access cache's invalidation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from coagent_contracts.gateway import (
    MembershipChangedData,
    MembershipChangedV1,
    RoomChangedData,
    RoomChangedV1,
)
from coagent_kit.broker import create_broker, publish_event
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.adapters.memory_rooms import ScriptedAccess
from coagent_trigger.room_consumers import register_room_consumers
from coagent_trigger.room_projection import RoomProjection


@pytest.fixture
def access() -> ScriptedAccess:
    return ScriptedAccess()


@pytest.fixture
async def broker(store: MemoryStore, access: ScriptedAccess) -> AsyncIterator[NatsBroker]:
    real = create_broker("nats://127.0.0.1:4222", "trigger")
    register_room_consumers(real, RoomProjection(lambda: MemoryUnitOfWork(store)), access)
    async with TestNatsBroker(real) as test_broker:
        yield test_broker


async def test_room_changes_reach_the_projection_and_drop_cached_answers(
    broker: NatsBroker, store: MemoryStore, access: ScriptedAccess
) -> None:
    changed = RoomChangedV1(
        producer="gateway",
        data=RoomChangedData(
            room_id="r1", course_id="c1", attached_workflow_id="wf", attached_by="u1"
        ),
    )
    await publish_event(broker, changed)
    assert store.rooms["r1"].fallback == ("wf", "u1")
    assert "r1" in access.invalidated

    access.invalidated.clear()
    joined = MembershipChangedV1(
        producer="gateway",
        data=MembershipChangedData(room_id="r2", user_id="u2", change="added", role="student"),
    )
    # On a real server a JetStream publish also reaches plain subscriptions; the test broker
    # routes stream publishes to stream consumers only, so this one is published plainly.
    await broker.publish(joined.model_dump_json().encode(), joined.subject)
    assert access.invalidated == ["r2"]
