"""HTTP shapes of ``/api/v1/triggers`` (the reference client's, plus owner and timestamps)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from coagent_contracts.trigger import TriggerEventType
from coagent_trigger.overlap import RunStatus, TrackedRun
from coagent_trigger.policies import Firing, FiringOutcome, Policy

Id = str

_NOT_NULLABLE = ("name", "event_type", "conditions", "target_workflow_id", "is_active")


def _blank_is_none(value: str | None) -> str | None:
    # The reference UI's scope box sends "" for "every room".
    return value or None


class TriggerCreate(BaseModel):
    """``POST /api/v1/triggers``; ``conditions`` are checked against ``event_type``."""

    name: str = Field(default="Untitled Trigger", min_length=1, max_length=200)
    event_type: TriggerEventType = "user_message"
    conditions: dict[str, Any] = Field(default_factory=dict)
    target_workflow_id: Id = Field(min_length=1, max_length=64)
    scope_session_id: Id | None = Field(default=None, max_length=64)
    is_active: bool = True
    scope_course_id: Id | None = Field(default=None, max_length=64)
    """Every room of this course the owner may act on; not together with ``scope_session_id``."""

    _scope = field_validator("scope_session_id", "scope_course_id")(_blank_is_none)


class TriggerUpdate(BaseModel):
    """``PUT /api/v1/triggers/{id}``: only the fields sent change.

    ``scope_session_id: null`` / ``scope_course_id: null`` clear that scope (the reference
    could not clear it); ``null`` for any other field is refused rather than read as "no
    change". Moving a policy from a room to a course scope sends both (the room as ``null``).
    """

    name: str | None = Field(default=None, min_length=1, max_length=200)
    event_type: TriggerEventType | None = None
    conditions: dict[str, Any] | None = None
    target_workflow_id: Id | None = Field(default=None, min_length=1, max_length=64)
    scope_session_id: Id | None = Field(default=None, max_length=64)
    is_active: bool | None = None
    scope_course_id: Id | None = Field(default=None, max_length=64)

    _scope = field_validator("scope_session_id", "scope_course_id")(_blank_is_none)

    @model_validator(mode="after")
    def _no_null_but_scope(self) -> TriggerUpdate:
        nulls = [
            f for f in _NOT_NULLABLE if f in self.model_fields_set and getattr(self, f) is None
        ]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, with their new values."""
        return {f: getattr(self, f) for f in self.model_fields_set}


class TriggerRead(BaseModel):
    """A policy. ``signing_secret`` is set only in the response that created the secret."""

    id: str
    name: str
    event_type: TriggerEventType
    conditions: dict[str, Any]
    target_workflow_id: str
    scope_session_id: str | None
    scope_course_id: str | None
    is_active: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    signing_secret: str | None = None

    @classmethod
    def of(cls, policy: Policy, signing_secret: str | None = None) -> TriggerRead:
        """The HTTP view of ``policy`` (never its stored secret)."""
        return cls(
            id=policy.id,
            name=policy.name,
            event_type=policy.event_type,
            conditions=policy.conditions,
            target_workflow_id=policy.target_workflow_id,
            scope_session_id=policy.scope_session_id,
            scope_course_id=policy.scope_course_id,
            is_active=policy.is_active,
            created_by=policy.created_by,
            created_at=policy.created_at,
            updated_at=policy.updated_at,
            signing_secret=signing_secret,
        )


class FireRequest(BaseModel):
    """``POST /api/v1/triggers/{id}/fire``: the room (default: the policy's) and run input."""

    room_id: Id | None = Field(default=None, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict)


class FireAccepted(BaseModel):
    """The firing was logged; ``outcome`` says whether its run starts (``fired``, then
    asynchronously), waits for the policy's running run (``buffered``) or was dropped by the
    overlap rule (``skipped``)."""

    firing_id: str
    firing_key: str
    outcome: FiringOutcome = "fired"


class FiringRead(BaseModel):
    """One entry of a policy's firing log."""

    id: str
    firing_key: str
    policy_id: str | None
    """Null only for a room's fallback firing (no policy fired)."""
    event_type: TriggerEventType
    outcome: FiringOutcome
    room_id: str | None
    source_event_id: str | None
    fired_by: str | None
    detail: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, firing: Firing) -> FiringRead:
        """The HTTP view of a firing."""
        return cls(
            id=firing.id,
            firing_key=firing.firing_key,
            policy_id=firing.policy_id,
            event_type=firing.event_type,
            outcome=firing.outcome,
            room_id=firing.room_id,
            source_event_id=firing.source_event_id,
            fired_by=firing.fired_by,
            detail=firing.detail,
            created_at=firing.created_at,
        )


class RunTriggerRead(BaseModel):
    """The firing that started a run (as the workflow engine's run shows it)."""

    kind: TriggerEventType
    policy_id: str
    firing_key: str
    #: Id of the ``trigger fired`` event that carried the firing.
    event_id: str | None


class PolicyRunRead(BaseModel):
    """One run a policy started, as far as trigger follows it (CONTRACTS "Runs" fields).

    ``status`` moves ``queued`` → ``running`` → a terminal status; a run waiting for human
    input still reads ``running`` here (the engine's run has the finer status).
    """

    id: str
    workflow_id: str | None
    status: RunStatus | None
    room_id: str | None
    fired_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    trigger: RunTriggerRead

    @classmethod
    def of(cls, run: TrackedRun, policy: Policy) -> PolicyRunRead:
        """The HTTP view of a tracked run of ``policy`` (its kind when the run predates it)."""
        assert run.run_id is not None, "only announced runs are listed"
        kind = run.kind if run.kind is not None else policy.event_type
        return cls(
            id=run.run_id,
            workflow_id=run.workflow_id,
            status=run.status,
            room_id=run.room_id,
            fired_at=run.fired_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=run.error,
            trigger=RunTriggerRead(
                kind=kind,
                policy_id=run.policy_id,
                firing_key=run.firing_key,
                event_id=run.fired_event_id,
            ),
        )
