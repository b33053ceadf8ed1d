"""HTTP shapes of the workflow engine's internal API (the run shape of CONTRACTS.md "Runs")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from coagent_workflow_engine.domain import Run, RunStatus, RunTrigger, TriggerKind


class RunTriggerRead(BaseModel):
    """The trigger firing that created a run."""

    kind: TriggerKind
    policy_id: str
    firing_key: str
    event_id: str

    @classmethod
    def of(cls, trigger: RunTrigger) -> RunTriggerRead:
        """The HTTP view of a run's trigger."""
        return cls(
            kind=trigger.kind,
            policy_id=trigger.policy_id,
            firing_key=trigger.firing_key,
            event_id=trigger.event_id,
        )


class RunRead(BaseModel):
    """A run; ``trigger`` is null for runs started directly."""

    id: str
    workflow_id: str
    workflow_version: int
    status: RunStatus
    trigger: RunTriggerRead | None
    room_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, run: Run) -> RunRead:
        """The HTTP view of a run."""
        return cls(
            id=run.id,
            workflow_id=run.workflow_id,
            workflow_version=run.workflow_version,
            status=run.status,
            trigger=RunTriggerRead.of(run.trigger) if run.trigger else None,
            room_id=run.room_id,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=run.error,
        )
