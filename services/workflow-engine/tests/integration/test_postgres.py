"""The Postgres adapter against a real PostgreSQL (the session's embedded server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.trigger import TriggerFiredV1
from coagent_contracts.workflow import RunQueuedV1
from coagent_workflow_engine.adapters.postgres import outbox, runs
from coagent_workflow_engine.adapters.postgres_engine import PostgresEngineUnitOfWork
from coagent_workflow_engine.domain import Run, RunNotFound
from coagent_workflow_engine.service import WorkflowEngineService
from coagent_workflow_engine.workflows.domain import Caller, WorkflowNotFound

pytestmark = pytest.mark.integration

Fired = Callable[..., TriggerFiredV1]
OWNER = Caller("u1", "teacher")


@pytest.fixture
def commits() -> list[int]:
    """One entry per committed unit of work (what would wake the outbox relay)."""
    return []


@pytest.fixture
def pg_service(
    sessions: async_sessionmaker[AsyncSession], commits: list[int]
) -> WorkflowEngineService:
    return WorkflowEngineService(
        lambda: PostgresEngineUnitOfWork(sessions, lambda: commits.append(1))
    )


@pytest.fixture
async def workflow(seed: Any) -> str:
    """A workflow of this test only (the database is shared by the whole session)."""
    workflow_id = f"wf-{uuid.uuid4().hex[:12]}"
    await seed(workflow_id)
    return workflow_id


async def count(sessions: async_sessionmaker[AsyncSession], workflow: str) -> tuple[int, int]:
    """(runs, outbox rows) of ``workflow``."""
    async with sessions() as session:
        ids = (await session.scalars(select(runs.c.id).where(runs.c.workflow_id == workflow))).all()
        subjects = [f"workflow.run.{run_id}.queued.v1" for run_id in ids]
        events = await session.scalar(select(func.count()).where(outbox.c.subject.in_(subjects)))
    return len(ids), int(events or 0)


async def test_a_firing_is_stored_and_read_back(
    pg_service: WorkflowEngineService, fired: Fired, workflow: str, commits: list[int]
) -> None:
    run = await pg_service.queue_run_for_firing(fired(workflow_id=workflow, room_id=None))
    assert run is not None

    stored, _ = await pg_service.get_run(OWNER, workflow, run.id)

    assert stored == run
    assert stored.trigger is not None
    assert stored.room_id is None
    assert commits == [1]


async def test_one_run_and_one_event_per_firing_key(
    pg_service: WorkflowEngineService,
    sessions: async_sessionmaker[AsyncSession],
    fired: Fired,
    workflow: str,
) -> None:
    due = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    first, again = fired(workflow_id=workflow, at=due), fired(workflow_id=workflow, at=due)

    assert await pg_service.queue_run_for_firing(first) is not None
    assert await pg_service.queue_run_for_firing(first) is None
    assert await pg_service.queue_run_for_firing(again) is None

    assert await count(sessions, workflow) == (1, 1)


async def test_concurrent_deliveries_of_one_firing_create_one_run(
    pg_service: WorkflowEngineService,
    sessions: async_sessionmaker[AsyncSession],
    fired: Fired,
    workflow: str,
) -> None:
    firing = fired(workflow_id=workflow)
    results = await asyncio.gather(*(pg_service.queue_run_for_firing(firing) for _ in range(6)))

    assert len([r for r in results if r is not None]) == 1
    assert await count(sessions, workflow) == (1, 1)


async def test_the_queued_event_is_in_the_outbox_with_the_run(
    pg_service: WorkflowEngineService,
    sessions: async_sessionmaker[AsyncSession],
    fired: Fired,
    workflow: str,
) -> None:
    firing = fired(workflow_id=workflow)
    run = await pg_service.queue_run_for_firing(firing)
    assert run is not None

    async with sessions() as session:
        query = select(outbox).where(outbox.c.subject == f"workflow.run.{run.id}.queued.v1")
        row = (await session.execute(query)).one()
    event = RunQueuedV1.model_validate_json(row.payload)
    assert row.headers["Nats-Msg-Id"] == event.event_id
    assert (event.data.run_id, event.data.firing_key) == (run.id, firing.data.firing_key)
    assert event.causation_id == firing.event_id


async def test_runs_are_listed_newest_first_and_scoped_to_their_workflow(
    pg_service: WorkflowEngineService, fired: Fired, workflow: str
) -> None:
    created: list[Run] = []
    for _ in range(4):
        run = await pg_service.queue_run_for_firing(fired(workflow_id=workflow))
        assert run is not None
        created.append(run)
    other = await pg_service.queue_run_for_firing(fired(workflow_id=workflow + "-other"))
    assert other is not None

    listed = await pg_service.list_runs(OWNER, workflow, limit=3)

    assert [r.id for r in listed] == [r.id for r in reversed(created)][:3]
    assert listed[0] == created[-1]
    with pytest.raises(WorkflowNotFound):
        await pg_service.list_runs(OWNER, workflow + "-none")
    with pytest.raises(RunNotFound):
        await pg_service.get_run(OWNER, workflow, other.id)
