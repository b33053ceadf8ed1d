"""HTTP shapes of the workflow engine's internal API (the run shape of CONTRACTS.md "Runs")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from coagent_workflow_engine.domain import Run, RunStatus, RunTrigger, Step, StepStatus, TriggerKind


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
    error_code: str | None = None
    #: What a ``human_input`` node asks while the run is ``interrupted``.
    pending_input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    attempt: int = 0
    #: The run whose subworkflow node started this one.
    parent_run_id: str | None = None

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
            error_code=run.error_code,
            pending_input=run.pending_input,
            output=run.output,
            attempt=run.attempt,
            parent_run_id=run.parent_run_id,
        )


class StepRead(BaseModel):
    """One node execution of a run's timeline."""

    node_id: str
    node_type: str
    step: int
    status: StepStatus
    started_at: datetime
    finished_at: datetime | None
    input: dict[str, Any]
    output: dict[str, Any]
    tokens: int
    cost: float
    error: str | None

    @classmethod
    def of(cls, step: Step) -> StepRead:
        return cls(
            node_id=step.node_id,
            node_type=step.node_type,
            step=step.step,
            status=step.status,
            started_at=step.started_at,
            finished_at=step.finished_at,
            input=step.input,
            output=step.output,
            tokens=step.tokens,
            cost=step.cost,
            error=step.error,
        )


class RunDetail(RunRead):
    """A run with its node-by-node timeline."""

    steps: list[StepRead]
    input: dict[str, Any] = Field(default_factory=dict)


class ExecuteBody(BaseModel):
    room_id: str | None = Field(default=None, max_length=64)
    input: dict[str, Any] = Field(default_factory=dict)


class ResumeBody(BaseModel):
    input: Any = None


class RunAccepted(BaseModel):
    run_id: str
    status: RunStatus
