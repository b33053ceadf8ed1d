"""The runs of a policy, kept by the overlap projection in a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.workflow import (
    RunCompletedData,
    RunCompletedV1,
    RunFailedData,
    RunFailedV1,
    RunQueuedData,
    RunQueuedV1,
    RunStartedData,
    RunStartedV1,
)
from coagent_trigger.adapters.postgres import PostgresUnitOfWork
from coagent_trigger.overlap import TrackedRun
from coagent_trigger.overlap_service import OverlapService
from coagent_trigger.policies import Caller, Firing
from coagent_trigger.policy_service import PolicyDraft, PolicyService
from coagent_trigger.secrets_box import SecretBox

pytestmark = pytest.mark.integration

OWNER = Caller("u1", "teacher")
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _uow(sessions: async_sessionmaker[AsyncSession]) -> Callable[[], PostgresUnitOfWork]:
    return lambda: PostgresUnitOfWork(sessions, lambda: None)


def _data(firing: Firing, run_id: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "workflow_id": "wf-pg",
        "workflow_version": 1,
        "room_id": firing.room_id,
        "firing_key": firing.firing_key,
        "policy_id": firing.policy_id,
    }


async def test_lifecycle_events_make_the_policys_run_list(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    policies = PolicyService(_uow(sessions), SecretBox("k"))
    overlap = OverlapService(_uow(sessions))
    room = f"room-{uuid.uuid4().hex[:8]}"
    draft = PolicyDraft("Digest", "manual", {"overlap": "allow"}, "wf-pg", room, True)
    policy = (await policies.create(OWNER, draft)).policy
    first = await policies.fire_manually(OWNER, policy.id, None, {})
    second = await policies.fire_manually(OWNER, policy.id, None, {})
    one, two = _data(first, "run-a"), _data(second, "run-b")
    at: dict[str, Any] = {"producer": "workflow-engine", "occurred_at": T0}
    later: dict[str, Any] = {
        "producer": "workflow-engine",
        "occurred_at": T0 + timedelta(seconds=3),
    }
    failed = RunFailedData(**one, error_code="budget_exceeded", error="out of tokens")
    for event in (
        RunQueuedV1(**at, data=RunQueuedData(**one)),
        RunFailedV1(**later, data=failed),
        RunStartedV1(**at, data=RunStartedData(**one)),
        RunStartedV1(**at, data=RunStartedData(**two)),
    ):
        assert await overlap.on_run_event(event)
    assert not await overlap.on_run_event(event), "a redelivered event is absorbed"

    runs = await overlap.runs(policy.id, 20)

    assert [(r.run_id, r.status) for r in runs] == [("run-b", "running"), ("run-a", "failed")]
    newest, oldest = runs
    assert (oldest.started_at, oldest.finished_at) == (T0, T0 + timedelta(seconds=3))
    assert (oldest.error, oldest.workflow_id, oldest.kind, oldest.room_id) == (
        "out of tokens",
        "wf-pg",
        "manual",
        room,
    )
    assert oldest.fired_event_id is not None
    assert oldest.fired_event_id != newest.fired_event_id
    assert [r.run_id for r in await overlap.runs(policy.id, 1)] == ["run-b"]
    completed = RunCompletedV1(**later, data=RunCompletedData(**two))
    assert await overlap.on_run_event(completed)
    assert (await overlap.runs(policy.id, 1))[0].status == "succeeded"


async def test_pruning_keeps_the_latest_ended_runs_and_every_going_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    policy_id, slot = f"p-{uuid.uuid4().hex[:8]}", "room-1"

    def run(index: int, state: str) -> TrackedRun:
        return TrackedRun(
            firing_key=f"{policy_id}:event:{index}",
            policy_id=policy_id,
            room_key=slot,
            state=state,  # type: ignore[arg-type]
            updated_at=T0,
            run_id=f"run-{index}",
            fired_at=T0 + timedelta(seconds=index),
        )

    runs = [run(i, "ended") for i in range(5)] + [run(5, "running")]
    runs.append(replace(run(6, "pending"), run_id=None))  # fired, no run announced yet
    async with _uow(sessions)() as uow:
        for tracked in runs:
            await uow.overlap.save(tracked)
        await uow.commit()

    async with _uow(sessions)() as uow:
        await uow.overlap.prune(policy_id, slot, T0 + timedelta(hours=1), keep=4)
        await uow.commit()
    async with _uow(sessions)() as uow:
        listed = await uow.overlap.runs(policy_id, 200)
        kept_going = await uow.overlap.tracked(policy_id, slot)

    # The four latest fired are 6 (no run: unlisted), 5 (running), 4 and 3; 0-2 ended long ago.
    assert [r.run_id for r in listed] == ["run-5", "run-4", "run-3"]
    assert {r.firing_key for r in kept_going} == {runs[5].firing_key, runs[6].firing_key}
