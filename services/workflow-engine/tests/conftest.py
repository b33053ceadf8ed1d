"""Fixtures shared by the workflow-engine tests: sample firings and a memory-backed service/app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from coagent_contracts.envelope import new_event_id
from coagent_contracts.trigger import TriggerEventType, TriggerFiredData, TriggerFiredV1, firing_key
from coagent_kit.app import build_app
from coagent_workflow_engine.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_workflow_engine.endpoints import router
from coagent_workflow_engine.service import WorkflowEngineService
from coagent_workflow_engine.settings import WorkflowEngineSettings

SECRET = "test-internal-secret-0123456789abcdefghij"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def fired() -> Callable[..., TriggerFiredV1]:
    """Build a ``TriggerFiredV1``: ``fired(workflow_id="w1", policy_id="p1", source=None)``.

    Message-driven firings are keyed by ``source`` (an event id, fresh unless given); pass
    ``at=<datetime>`` for a scheduled (silence/timer/cron) firing instead.
    """

    def make(
        workflow_id: str = "w1",
        policy_id: str = "p1",
        source: str | None = None,
        at: datetime | None = None,
        room_id: str | None = "r1",
        event_type: TriggerEventType | None = None,
    ) -> TriggerFiredV1:
        if at is not None:
            key = firing_key(policy_id, scheduled_for=at)
            kind: TriggerEventType = event_type or "silence"
        else:
            source = source or new_event_id()
            key = firing_key(policy_id, source_event_id=source)
            kind = event_type or "user_message"
        return TriggerFiredV1(
            producer="trigger",
            data=TriggerFiredData(
                policy_id=policy_id,
                workflow_id=workflow_id,
                room_id=room_id,
                event_type=kind,
                firing_key=key,
                scheduled_for=at,
                source_event_id=None if at is not None else source,
            ),
        )

    return make


@pytest.fixture
def clock() -> Callable[[], datetime]:
    """A clock one second further on at every call, so creation order is unambiguous."""
    ticks = iter(range(1_000_000))
    return lambda: T0 + timedelta(seconds=next(ticks))


@pytest.fixture
def store() -> MemoryStore:
    """Committed state of the memory adapters."""
    return MemoryStore()


@pytest.fixture
def service(store: MemoryStore, clock: Callable[[], datetime]) -> WorkflowEngineService:
    """The workflow engine on memory adapters."""
    return WorkflowEngineService(lambda: MemoryUnitOfWork(store), clock=clock)


@pytest.fixture
def settings() -> WorkflowEngineSettings:
    """Test settings with a known internal-token secret."""
    return WorkflowEngineSettings(env="test", internal_token_secret=SecretStr(SECRET))


@pytest.fixture
def memory_app(settings: WorkflowEngineSettings, service: WorkflowEngineService) -> FastAPI:
    """The workflow-engine HTTP API over the memory-backed service (no broker, no database)."""
    app = build_app(settings, title="CoAgent workflow engine (memory)")
    app.state.workflow_engine = service
    app.include_router(router)
    return app
