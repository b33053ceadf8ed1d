"""Runs of workflows: pure types and rules (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from coagent_kit.errors import Conflict, NotFound

RunStatus = Literal[
    "queued", "running", "interrupted", "succeeded", "failed", "cancelled", "timed_out"
]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "timed_out"})
StepStatus = Literal["running", "succeeded", "failed", "skipped"]
TriggerKind = Literal["user_message", "silence", "timer", "cron", "webhook", "manual"]

#: The workflow version a run records while workflow definitions do not exist yet: the first
#: version every definition will get. Not 0: the run events' contract (``RunData``) requires a
#: version of at least 1, and a run whose ``RunQueuedV1`` cannot be built would never be created.
FIRST_WORKFLOW_VERSION = 1


class RunNotFound(NotFound):
    code = "run_not_found"


class RunNotInterrupted(Conflict):
    code = "run_not_interrupted"


class RunAlreadyFinished(Conflict):
    code = "run_already_finished"


@dataclass(frozen=True)
class RunTrigger:
    """The trigger firing that created a run.

    ``firing_key`` identifies the firing (one run per firing); ``event_id`` is the id of the
    ``trigger fired`` event that carried it.
    """

    kind: TriggerKind
    policy_id: str
    firing_key: str
    event_id: str


@dataclass(frozen=True)
class Run:
    """One execution of one workflow version; ``trigger`` is ``None`` for runs started directly."""

    id: str
    workflow_id: str
    workflow_version: int
    status: RunStatus
    trigger: RunTrigger | None
    room_id: str | None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    #: Stable snake_case code of ``error`` (``budget_exceeded``, ``timeout``, ``not_runnable``…).
    error_code: str | None = None
    #: User the run acts for (the workflow's owner or the caller of ``execute``); whose keys pay.
    created_by: str | None = None
    #: The payload the run starts from (the trigger's or the ``execute`` body's ``input``).
    input: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    #: Worker lease: a run whose lease expired is claimed again and resumed from its checkpoint.
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    attempt: int = 0
    #: Set by a cancel request; checked between steps by whichever process runs it.
    cancel_requested: bool = False
    #: What a ``human_input`` node asked while the run is ``interrupted``.
    pending_input: dict[str, Any] | None = None
    #: ``{"value": …}`` once someone answered; consumed by the worker that resumes the run.
    resume: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    #: The run whose ``subworkflow`` node started this one (``None`` for top-level runs).
    parent_run_id: str | None = None
    #: Budgets a child run got from its parent (``RunLimits`` fields), tighter than its graph's.
    limits: dict[str, Any] | None = None
    #: W3C trace context (``traceparent``…) of whoever queued the run: the worker that claims it,
    #: in any process and after any restart, continues that trace instead of starting its own.
    trace_context: dict[str, str] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def queued(
        cls,
        run_id: str,
        workflow_id: str,
        trigger: RunTrigger | None,
        room_id: str | None,
        now: datetime,
        workflow_version: int = FIRST_WORKFLOW_VERSION,
        *,
        created_by: str | None = None,
        input: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        trace_context: dict[str, str] | None = None,
    ) -> Run:
        """A new run waiting for a worker."""
        return cls(
            id=run_id,
            workflow_id=workflow_id,
            workflow_version=workflow_version,
            status="queued",
            trigger=trigger,
            room_id=room_id,
            created_at=now,
            created_by=created_by,
            input=dict(input or {}),
            idempotency_key=idempotency_key,
            trace_context=trace_context or None,
        )


@dataclass(frozen=True)
class Step:
    """One execution of one node: the run's timeline (CONTRACTS.md "Runs" ``steps``).

    ``step`` is LangGraph's superstep number, so ``(run_id, node_id, step)`` names the same
    execution again when a resumed run re-enters a node: its recorded outcome is reused instead of
    calling the model (and posting to the room) twice.
    """

    run_id: str
    node_id: str
    step: int
    node_type: str
    status: StepStatus
    started_at: datetime
    finished_at: datetime | None = None
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    tokens: int = 0
    cost: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class HistoryMessage:
    """One message of a room as this service keeps it (agents read it as their context)."""

    room_id: str
    message_id: str
    seq: int
    sender_kind: str
    sender_name: str | None
    content: str
    created_at: datetime
    agent_id: str | None = None
