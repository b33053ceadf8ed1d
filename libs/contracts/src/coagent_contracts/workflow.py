"""Workflow context: run lifecycle, node results and agent replies (publisher: workflow-engine).

Every event is keyed by the run (``workflow.run.<run_id>.…``) so a client following one run
filters on the server. Agent replies are published here and persisted by chat, which stays the
sole writer of room history.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, TypeAdapter

from coagent_contracts.envelope import Event, EventData, UtcDatetime, tagged_union
from coagent_contracts.subjects import SubjectToken, join_subject

__all__ = [
    "WORKFLOW_EVENTS",
    "WORKFLOW_EVENT_TYPES",
    "AgentMessageProducedData",
    "AgentMessageProducedV1",
    "ArtifactWriteRequestedData",
    "ArtifactWriteRequestedV1",
    "NodeFinishedData",
    "NodeFinishedV1",
    "NodeStatus",
    "RunCancelledData",
    "RunCancelledV1",
    "RunCompletedData",
    "RunCompletedV1",
    "RunData",
    "RunFailedData",
    "RunFailedV1",
    "RunLifecycleData",
    "RunQueuedData",
    "RunQueuedV1",
    "RunStartedData",
    "RunStartedV1",
    "RoomWorkflowAttachedData",
    "RoomWorkflowAttachedV1",
    "WorkflowEvent",
    "agent_message_produced_subject",
    "artifact_write_requested_subject",
    "node_finished_subject",
    "run_cancelled_subject",
    "run_completed_subject",
    "run_failed_subject",
    "run_filter",
    "run_queued_subject",
    "run_started_subject",
    "room_workflow_attached_subject",
]

NodeStatus = Literal["succeeded", "failed", "skipped"]
"""Outcome of one node execution."""


def _run_subject(run_id: str, *tail: str) -> str:
    return join_subject("workflow", "run", run_id, *tail)


def run_queued_subject(run_id: str) -> str:
    """``workflow.run.<run_id>.queued.v1``."""
    return _run_subject(run_id, "queued", "v1")


def run_started_subject(run_id: str) -> str:
    """``workflow.run.<run_id>.started.v1``."""
    return _run_subject(run_id, "started", "v1")


def node_finished_subject(run_id: str) -> str:
    """``workflow.run.<run_id>.node.finished.v1``."""
    return _run_subject(run_id, "node", "finished", "v1")


def run_completed_subject(run_id: str) -> str:
    """``workflow.run.<run_id>.completed.v1``."""
    return _run_subject(run_id, "completed", "v1")


def run_failed_subject(run_id: str) -> str:
    """``workflow.run.<run_id>.failed.v1``."""
    return _run_subject(run_id, "failed", "v1")


def run_cancelled_subject(run_id: str) -> str:
    """``workflow.run.<run_id>.cancelled.v1``."""
    return _run_subject(run_id, "cancelled", "v1")


def agent_message_produced_subject(run_id: str) -> str:
    """``workflow.run.<run_id>.agent_message.produced.v1``."""
    return _run_subject(run_id, "agent_message", "produced", "v1")


def artifact_write_requested_subject(run_id: str) -> str:
    """``workflow.run.<run_id>.artifact_write.requested.v1``."""
    return _run_subject(run_id, "artifact_write", "requested", "v1")


def run_filter(run_id: str) -> str:
    """``workflow.run.<run_id>.>``: every workflow event of one run."""
    return join_subject("workflow", "run", run_id) + ".>"


class RunData(EventData):
    """Fields every run event carries: the run and the immutable workflow version it runs."""

    run_id: SubjectToken
    workflow_id: str = Field(min_length=1)
    workflow_version: int = Field(ge=1)
    room_id: str | None = None
    """Room the run acts in, null for runs not bound to a room."""


class RunLifecycleData(RunData):
    """Run state transitions also say which firing, if any, started the run."""

    firing_key: str | None = None
    """Firing key of the trigger firing that created the run; null for direct API runs."""
    policy_id: str | None = None
    """Trigger policy that fired, so trigger can apply its overlap rule without a lookup."""


class RunQueuedData(RunLifecycleData):
    """A run was created and waits for a worker."""


class RunQueuedV1(Event):
    """A run was queued (``workflow.run.<run_id>.queued.v1``)."""

    FILTER: ClassVar[str] = "workflow.run.*.queued.v1"

    type: Literal["workflow.run.queued"] = "workflow.run.queued"
    version: Literal[1] = 1
    data: RunQueuedData

    @property
    def subject(self) -> str:
        """Subject keyed by the run."""
        return run_queued_subject(self.data.run_id)


class RunStartedData(RunLifecycleData):
    """A worker began executing the run."""


class RunStartedV1(Event):
    """A run started (``workflow.run.<run_id>.started.v1``)."""

    FILTER: ClassVar[str] = "workflow.run.*.started.v1"

    type: Literal["workflow.run.started"] = "workflow.run.started"
    version: Literal[1] = 1
    data: RunStartedData

    @property
    def subject(self) -> str:
        """Subject keyed by the run."""
        return run_started_subject(self.data.run_id)


class NodeFinishedData(RunData):
    """One node of the run finished executing."""

    node_id: str = Field(min_length=1)
    node_type: str = Field(min_length=1)
    status: NodeStatus
    started_at: UtcDatetime
    finished_at: UtcDatetime
    tokens: int = Field(default=0, ge=0)
    cost: float = Field(default=0.0, ge=0)
    """Provider cost of the node in USD."""
    error: str | None = None


class NodeFinishedV1(Event):
    """A node finished (``workflow.run.<run_id>.node.finished.v1``)."""

    FILTER: ClassVar[str] = "workflow.run.*.node.finished.v1"

    type: Literal["workflow.node.finished"] = "workflow.node.finished"
    version: Literal[1] = 1
    data: NodeFinishedData

    @property
    def subject(self) -> str:
        """Subject keyed by the run."""
        return node_finished_subject(self.data.run_id)


class RunCompletedData(RunLifecycleData):
    """The run reached its end node (terminal status ``succeeded``)."""

    output: dict[str, Any] = Field(default_factory=dict)


class RunCompletedV1(Event):
    """A run succeeded (``workflow.run.<run_id>.completed.v1``)."""

    FILTER: ClassVar[str] = "workflow.run.*.completed.v1"

    type: Literal["workflow.run.completed"] = "workflow.run.completed"
    version: Literal[1] = 1
    data: RunCompletedData

    @property
    def subject(self) -> str:
        """Subject keyed by the run."""
        return run_completed_subject(self.data.run_id)


class RunFailedData(RunLifecycleData):
    """The run ended without success (terminal status ``failed`` or ``timed_out``)."""

    error_code: str = Field(min_length=1)
    """Stable snake_case code, e.g. ``budget_exceeded``."""
    error: str
    """Human-readable error message."""
    status: Literal["failed", "timed_out"] = "failed"


class RunFailedV1(Event):
    """A run failed or timed out (``workflow.run.<run_id>.failed.v1``)."""

    FILTER: ClassVar[str] = "workflow.run.*.failed.v1"

    type: Literal["workflow.run.failed"] = "workflow.run.failed"
    version: Literal[1] = 1
    data: RunFailedData

    @property
    def subject(self) -> str:
        """Subject keyed by the run."""
        return run_failed_subject(self.data.run_id)


class RunCancelledData(RunLifecycleData):
    """The run was cancelled (terminal status ``cancelled``)."""

    reason: str | None = None
    cancelled_by: str | None = None
    """User id, or null when a policy (e.g. ``cancel_running`` overlap) cancelled it."""


class RunCancelledV1(Event):
    """A run was cancelled (``workflow.run.<run_id>.cancelled.v1``)."""

    FILTER: ClassVar[str] = "workflow.run.*.cancelled.v1"

    type: Literal["workflow.run.cancelled"] = "workflow.run.cancelled"
    version: Literal[1] = 1
    data: RunCancelledData

    @property
    def subject(self) -> str:
        """Subject keyed by the run."""
        return run_cancelled_subject(self.data.run_id)


class AgentMessageProducedData(RunData):
    """An agent of the run wrote a reply that chat must post in the room."""

    room_id: str = Field(min_length=1)  # narrowed from RunData: chat can only post into a room
    agent_id: str = Field(min_length=1)
    agent_name: str
    agent_type: str | None = None
    """The agent's type (``teacher``, ``student``, custom), shown by clients."""
    offline: bool = False
    """True when the offline (deterministic, no network) model wrote the reply."""
    stream_id: str | None = None
    """Id of the ``message_delta`` live frames that streamed this reply token by token."""
    content: str
    reply_to_message_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Provider details for display and audit, e.g. ``{"provider": "offline"}``."""


class AgentMessageProducedV1(Event):
    """An agent reply was produced (``workflow.run.<run_id>.agent_message.produced.v1``)."""

    FILTER: ClassVar[str] = "workflow.run.*.agent_message.produced.v1"

    type: Literal["workflow.agent_message.produced"] = "workflow.agent_message.produced"
    version: Literal[1] = 1
    data: AgentMessageProducedData

    @property
    def subject(self) -> str:
        """Subject keyed by the run."""
        return agent_message_produced_subject(self.data.run_id)


class ArtifactWriteRequestedData(RunData):
    """A run's ``update_artifact`` action: chat (the owner of artifacts) applies it once.

    ``write_key`` (``<run_id>.<node_id>``) names the artifact a node creates: when
    ``artifact_id`` is null, the first write with a key creates the artifact and later writes
    with the same key update it, so a run that loops through the node, or is resumed, never
    creates a second one. A redelivered event (same ``event_id``) is applied once.
    """

    room_id: str = Field(min_length=1)  # narrowed from RunData: artifacts live in rooms
    node_id: str = Field(min_length=1)
    write_key: str = Field(min_length=1, max_length=255)
    artifact_id: str | None = None
    """The artifact to update; null: the one created under ``write_key`` (created if none)."""
    artifact_type: Literal["task", "doc", "process"] = "doc"
    title: str | None = Field(default=None, max_length=500)
    """Title of a created artifact (and the new title of an updated one, when given)."""
    content: Any
    """A string (a document paragraph, or a task's description) or the content object."""
    mode: Literal["replace", "append"] = "replace"
    """``append`` adds the content to a document's existing blocks instead of replacing them."""
    written_by: str = Field(min_length=1)
    """Who the change is recorded for (``workflow:<workflow_id>``)."""


class ArtifactWriteRequestedV1(Event):
    """A run asks chat to write an artifact
    (``workflow.run.<run_id>.artifact_write.requested.v1``)."""

    FILTER: ClassVar[str] = "workflow.run.*.artifact_write.requested.v1"

    type: Literal["workflow.artifact_write.requested"] = "workflow.artifact_write.requested"
    version: Literal[1] = 1
    data: ArtifactWriteRequestedData

    @property
    def subject(self) -> str:
        """Subject keyed by the run."""
        return artifact_write_requested_subject(self.data.run_id)


def room_workflow_attached_subject(room_id: str) -> str:
    """``workflow.room.<room_id>.workflow_attached.v1``."""
    return join_subject("workflow", "room", room_id, "workflow_attached", "v1")


class RoomWorkflowAttachedData(EventData):
    """The engine created a workflow for a room and attached it (``PUT /rooms/{id}/workflow``).

    The gateway owns the room's ``attached_workflow_id`` and sets it from this event.
    """

    room_id: SubjectToken
    workflow_id: str = Field(min_length=1)
    attached_by: str = Field(min_length=1)
    """User who attached it (course staff or an admin): the room's fallback runs as them."""


class RoomWorkflowAttachedV1(Event):
    """A workflow was attached to a room (``workflow.room.<room_id>.workflow_attached.v1``)."""

    FILTER: ClassVar[str] = "workflow.room.*.workflow_attached.v1"

    type: Literal["workflow.room.workflow_attached"] = "workflow.room.workflow_attached"
    version: Literal[1] = 1
    data: RoomWorkflowAttachedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return room_workflow_attached_subject(self.data.room_id)


WorkflowEvent = (
    RunQueuedV1
    | RunStartedV1
    | NodeFinishedV1
    | RunCompletedV1
    | RunFailedV1
    | RunCancelledV1
    | AgentMessageProducedV1
    | ArtifactWriteRequestedV1
    | RoomWorkflowAttachedV1
)
"""Static type of any workflow event."""

WORKFLOW_EVENT_TYPES: tuple[type[Event], ...] = (
    RunQueuedV1,
    RunStartedV1,
    NodeFinishedV1,
    RunCompletedV1,
    RunFailedV1,
    RunCancelledV1,
    AgentMessageProducedV1,
    ArtifactWriteRequestedV1,
    RoomWorkflowAttachedV1,
)
"""Every workflow event class, in declaration order."""

WORKFLOW_EVENTS: TypeAdapter[WorkflowEvent] = TypeAdapter(tagged_union(*WORKFLOW_EVENT_TYPES))
"""Validates any workflow event, discriminating on ``type`` and ``version``."""
