"""Runs created from trigger firings: exactly one run and one event per firing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Self

import pytest

from coagent_contracts.trigger import TriggerFiredV1
from coagent_contracts.workflow import RunFailedV1, RunQueuedV1
from coagent_workflow_engine.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_workflow_engine.domain import FIRST_WORKFLOW_VERSION, Run, RunNotFound, RunTrigger
from coagent_workflow_engine.service import WorkflowEngineService
from coagent_workflow_engine.workflows.domain import Caller, WorkflowNotFound

Fired = Callable[..., TriggerFiredV1]
OWNER = Caller("u1", "teacher")


class _FailingUnitOfWork(MemoryUnitOfWork):
    """Fails when the event is queued, after the run was staged: neither may survive."""

    async def __aenter__(self) -> Self:
        await super().__aenter__()

        async def publish(event: object) -> None:
            raise RuntimeError("outbox unavailable")

        self.publish = publish  # type: ignore[method-assign]
        return self


async def test_a_firing_creates_one_queued_run_and_its_event(
    service: WorkflowEngineService, store: MemoryStore, fired: Fired
) -> None:
    firing = fired(workflow_id="w1", policy_id="p1", room_id="r9")

    run = await service.queue_run_for_firing(firing)

    assert run is not None
    assert run == Run(
        id=run.id,
        workflow_id="w1",
        workflow_version=FIRST_WORKFLOW_VERSION,
        status="queued",
        trigger=RunTrigger(
            kind="user_message",
            policy_id="p1",
            firing_key=firing.data.firing_key,
            event_id=firing.event_id,
        ),
        room_id="r9",
        created_at=run.created_at,
        created_by="u1",  # the workflow's owner: the run acts (and pays) for them
    )
    assert list(store.runs.values()) == [run]
    [event] = store.published
    assert isinstance(event, RunQueuedV1)
    assert event.subject == f"workflow.run.{run.id}.queued.v1"
    assert (event.data.run_id, event.data.workflow_id, event.data.room_id) == (run.id, "w1", "r9")
    assert (event.data.firing_key, event.data.policy_id) == (firing.data.firing_key, "p1")
    assert event.causation_id == event.correlation_id == firing.event_id


async def test_the_cause_correlation_id_is_carried_on(
    service: WorkflowEngineService, store: MemoryStore, fired: Fired
) -> None:
    firing = fired().model_copy(update={"correlation_id": "corr-1"})
    await service.queue_run_for_firing(firing)
    assert store.published[0].correlation_id == "corr-1"


async def test_a_redelivered_firing_creates_nothing_more(
    service: WorkflowEngineService, store: MemoryStore, fired: Fired
) -> None:
    firing = fired()
    assert await service.queue_run_for_firing(firing) is not None
    assert await service.queue_run_for_firing(firing) is None
    assert (len(store.runs), len(store.published)) == (1, 1)


async def test_another_event_for_the_same_firing_key_creates_nothing_more(
    service: WorkflowEngineService, store: MemoryStore, fired: Fired
) -> None:
    # Same slot of the same policy, published twice under different event ids (a re-armed
    # timer, a replay): the firing key, not the event id, is the identity of a firing.
    due = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    first, again = fired(at=due), fired(at=due)
    assert first.event_id != again.event_id

    assert await service.queue_run_for_firing(first) is not None
    assert await service.queue_run_for_firing(again) is None
    assert (len(store.runs), len(store.published)) == (1, 1)


async def test_distinct_firings_create_distinct_runs(
    service: WorkflowEngineService, store: MemoryStore, fired: Fired
) -> None:
    source = "evt-1"  # one message firing two policies: two firings
    await service.queue_run_for_firing(fired(policy_id="p1", source=source))
    await service.queue_run_for_firing(fired(policy_id="p2", source=source))
    await service.queue_run_for_firing(fired(policy_id="p1", at=datetime(2026, 1, 5, tzinfo=UTC)))
    assert len({run.id for run in store.runs.values()}) == 3
    assert len(store.published) == 3


async def test_a_failure_before_commit_leaves_no_run_and_no_event(
    store: MemoryStore, fired: Fired
) -> None:
    failing = WorkflowEngineService(lambda: _FailingUnitOfWork(store))
    with pytest.raises(RuntimeError, match="outbox unavailable"):
        await failing.queue_run_for_firing(fired())
    assert (store.runs, store.published) == ({}, [])


async def test_runs_are_listed_newest_first_per_workflow_and_limited(
    service: WorkflowEngineService, fired: Fired
) -> None:
    created = [await service.queue_run_for_firing(fired(workflow_id="w1")) for _ in range(5)]
    await service.queue_run_for_firing(fired(workflow_id="w2"))

    listed = await service.list_runs(OWNER, "w1", limit=3)

    assert [r.id for r in listed] == [r.id for r in reversed(created) if r is not None][:3]
    with pytest.raises(WorkflowNotFound):
        await service.list_runs(OWNER, "nothing")
    with pytest.raises(WorkflowNotFound):  # not the owner, not an admin
        await service.list_runs(Caller("u2", "teacher"), "w1")
    assert len(await service.list_runs(Caller("u9", "admin"), "w1")) == 5


async def test_the_page_size_is_clamped(service: WorkflowEngineService, fired: Fired) -> None:
    for _ in range(3):
        await service.queue_run_for_firing(fired())
    assert len(await service.list_runs(OWNER, "w1", limit=0)) == 1
    assert len(await service.list_runs(OWNER, "w1", limit=10_000)) == 3


async def test_a_run_is_read_only_through_its_own_workflow(
    service: WorkflowEngineService, fired: Fired
) -> None:
    run = await service.queue_run_for_firing(fired(workflow_id="w1"))
    assert run is not None
    assert await service.get_run(OWNER, "w1", run.id) == (run, [])
    with pytest.raises(RunNotFound) as caught:
        await service.get_run(OWNER, "w2", run.id)
    assert (caught.value.status, caught.value.code) == (404, "run_not_found")
    with pytest.raises(RunNotFound):
        await service.get_run(OWNER, "w1", "no-such-run")


@pytest.mark.parametrize(
    ("workflow_id", "code"),
    [
        ("ghost", "workflow_not_found"),
        ("off", "workflow_inactive"),
        ("draft", "workflow_not_runnable"),
    ],
)
async def test_a_firing_for_a_workflow_that_cannot_run_is_a_failed_run_with_the_reason(
    service: WorkflowEngineService, store: MemoryStore, fired: Fired, workflow_id: str, code: str
) -> None:
    off, draft = store.engine_tables.workflows["w2"], store.engine_tables.workflows["w7"]
    store.engine_tables.workflows["off"] = replace(off, id="off", is_active=False)
    store.engine_tables.versions[("off", 1)] = replace(
        store.engine_tables.versions[("w2", 1)], workflow_id="off"
    )
    store.engine_tables.workflows["draft"] = replace(draft, id="draft")
    store.engine_tables.versions[("draft", 1)] = replace(
        store.engine_tables.versions[("w7", 1)],
        workflow_id="draft",
        graph={"schema_version": 1, "nodes": [], "edges": []},
    )

    run = await service.queue_run_for_firing(fired(workflow_id=workflow_id))

    assert run is not None
    assert (run.status, run.error_code) == ("failed", code)
    assert run.finished_at is not None
    queued, failed = store.published
    assert isinstance(queued, RunQueuedV1)
    assert isinstance(failed, RunFailedV1)
    assert failed.data.error_code == code
