"""The engine's consumers fed through FastStream's in-memory test broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from prometheus_client import REGISTRY

from coagent_contracts.gateway import RoomChangedData, RoomChangedV1
from coagent_contracts.trigger import TriggerFiredV1, trigger_fired_subject
from coagent_contracts.workflow import RunQueuedV1
from coagent_kit.broker import create_broker, publish_event
from coagent_workflow_engine.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_workflow_engine.consumers import register_consumers
from coagent_workflow_engine.service import FIRINGS_CONSUMER, WorkflowEngineService
from coagent_workflow_engine.workflows.domain import Caller
from coagent_workflow_engine.workflows.service import WorkflowService

Fired = Callable[..., TriggerFiredV1]


@pytest.fixture
def workflows(store: MemoryStore) -> WorkflowService:
    return WorkflowService(lambda: MemoryUnitOfWork(store))


@pytest.fixture
async def broker(
    service: WorkflowEngineService, workflows: WorkflowService
) -> AsyncIterator[NatsBroker]:
    real = create_broker("nats://127.0.0.1:4222", "workflow-engine")
    register_consumers(real, service, workflows)
    async with TestNatsBroker(real) as test_broker:
        yield test_broker


def dead_letters() -> float:
    value = REGISTRY.get_sample_value(
        "coagent_dead_letters_total", {"consumer": FIRINGS_CONSUMER, "reason": "invalid"}
    )
    return value or 0.0


async def test_a_firing_queues_exactly_one_run(
    broker: NatsBroker, store: MemoryStore, fired: Fired
) -> None:
    firing = fired(workflow_id="w7")
    await publish_event(broker, firing)
    await publish_event(broker, firing)  # a redelivery

    [run] = store.runs.values()
    assert (run.workflow_id, run.status) == ("w7", "queued")
    assert run.trigger is not None
    assert run.trigger.firing_key == firing.data.firing_key
    [event] = store.published
    assert isinstance(event, RunQueuedV1)
    assert event.data.run_id == run.id


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe not even utf-8",
        b'{"type": "trigger.policy.fired", "version": 1, "producer": "trigger"}',
        # A complete envelope whose firing key does not derive from its source.
        b'{"event_id": "e1", "type": "trigger.policy.fired", "version": 1,'
        b' "producer": "trigger", "occurred_at": "2026-01-05T09:00:00Z",'
        b' "data": {"policy_id": "p1", "workflow_id": "w1", "event_type": "manual",'
        b' "firing_key": "p1:event:other", "source_event_id": "e0"}}',
    ],
    ids=["garbage", "no-data", "forged-firing-key"],
)
async def test_an_invalid_payload_is_rejected_as_a_dead_letter(
    broker: NatsBroker, store: MemoryStore, fired: Fired, payload: bytes
) -> None:
    before = dead_letters()

    await broker.publish(payload, trigger_fired_subject("p1"), stream="TRIGGER")

    assert dead_letters() == before + 1
    assert (store.runs, store.published) == ({}, [])
    # The consumer is still alive: the next valid firing is applied.
    await publish_event(broker, fired())
    assert len(store.runs) == 1


def room_changed(attached: str | None, *, deleted: bool = False) -> RoomChangedV1:
    data = RoomChangedData(
        room_id="r1", course_id="c1", attached_workflow_id=attached, deleted=deleted
    )
    return RoomChangedV1(producer="gateway", data=data)


async def test_the_rooms_attachment_follows_the_gateways_room_events(
    broker: NatsBroker, workflows: WorkflowService
) -> None:
    owner = Caller("u1", "teacher")
    first, _ = await workflows.create(owner, "first", {"nodes": [], "edges": []}, True)
    second, _ = await workflows.create(owner, "second", {"nodes": [], "edges": []}, True)

    async def attached() -> str | None:
        current = await workflows.room_workflow("r1")
        return None if current is None else current[0].id

    await publish_event(broker, room_changed(first.id))
    assert await attached() == first.id
    await publish_event(broker, room_changed(second.id))
    assert await attached() == second.id
    await publish_event(broker, room_changed("not-a-workflow-here"))
    assert await attached() == second.id  # an id this engine does not know is not attached
    await publish_event(broker, room_changed(None))
    assert await attached() is None
    await publish_event(broker, room_changed(first.id))
    await publish_event(broker, room_changed(first.id, deleted=True))
    assert await attached() is None
