"""A trigger policy's ``cancel_running`` rule stops only runs that policy started."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from coagent_contracts.trigger import (
    TriggerFiredV1,
    TriggerRunCancelRequestedData,
    TriggerRunCancelRequestedV1,
)
from coagent_contracts.workflow import RunCancelledV1
from coagent_workflow_engine.adapters.memory import MemoryStore
from coagent_workflow_engine.domain import Run
from coagent_workflow_engine.service import WorkflowEngineService

Fired = Callable[..., TriggerFiredV1]


def request(
    run: Run, policy_id: str | None = None, key: str | None = None
) -> TriggerRunCancelRequestedV1:
    assert run.trigger is not None
    return TriggerRunCancelRequestedV1(
        producer="trigger",
        data=TriggerRunCancelRequestedData(
            policy_id=policy_id or run.trigger.policy_id,
            run_id=run.id,
            room_id=run.room_id,
            firing_key=key or run.trigger.firing_key,
            superseded_by="p1:event:newer",
        ),
    )


async def test_a_queued_run_of_the_policy_is_cancelled_at_once(
    service: WorkflowEngineService, store: MemoryStore, fired: Fired
) -> None:
    run = await service.queue_run_for_firing(fired(policy_id="p1"))
    assert run is not None

    cancelled = await service.cancel_for_policy(request(run))

    assert cancelled is not None
    assert cancelled.status == "cancelled"
    assert store.runs[run.id].status == "cancelled"
    event = store.published[-1]
    assert isinstance(event, RunCancelledV1)
    assert (event.data.cancelled_by, event.data.policy_id) == (None, "p1")


async def test_another_policys_or_firings_run_is_left_alone(
    service: WorkflowEngineService, store: MemoryStore, fired: Fired
) -> None:
    run = await service.queue_run_for_firing(fired(policy_id="p1"))
    assert run is not None
    published = len(store.published)

    assert await service.cancel_for_policy(request(run, policy_id="p2")) is None
    assert await service.cancel_for_policy(request(run, key="p1:event:other")) is None

    assert store.runs[run.id].status == "queued"
    assert len(store.published) == published


async def test_a_running_run_is_stopped_through_its_worker(
    service: WorkflowEngineService, store: MemoryStore, fired: Fired
) -> None:
    run = await service.queue_run_for_firing(fired(policy_id="p1"))
    assert run is not None
    store.runs[run.id] = replace(store.runs[run.id], status="running")
    stopped: list[str] = []

    async def on_cancel(run_id: str) -> None:
        stopped.append(run_id)

    service.on_cancel = on_cancel

    result = await service.cancel_for_policy(request(run))

    assert result is not None
    assert result.cancel_requested
    assert store.runs[run.id].cancel_requested
    assert stopped == [run.id]


async def test_an_ended_run_stays_as_it_ended(
    service: WorkflowEngineService, store: MemoryStore, fired: Fired
) -> None:
    run = await service.queue_run_for_firing(fired(policy_id="p1"))
    assert run is not None
    store.runs[run.id] = replace(store.runs[run.id], status="succeeded")

    assert await service.cancel_for_policy(request(run)) is None
    assert store.runs[run.id].status == "succeeded"
