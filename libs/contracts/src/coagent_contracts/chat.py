"""Chat context: messages, artifacts and room activity (publisher: chat).

Chat is the sole writer of room history and assigns the per-room ``seq`` that clients resume
from; every change it stores is published here on a subject keyed by the room.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, TypeAdapter

from coagent_contracts.envelope import Event, EventData, UtcDatetime, tagged_union
from coagent_contracts.subjects import SubjectToken, join_subject

__all__ = [
    "CHAT_EVENTS",
    "CHAT_EVENT_TYPES",
    "ArtifactChangedData",
    "ArtifactChangedV1",
    "ArtifactDeletedData",
    "ArtifactDeletedV1",
    "ArtifactType",
    "ChatEvent",
    "ForgetReason",
    "MessagePostedData",
    "MessagePostedV1",
    "MessagesErasedData",
    "MessagesErasedV1",
    "RoomActivityRecordedData",
    "RoomActivityRecordedV1",
    "SenderKind",
    "artifact_changed_subject",
    "artifact_deleted_subject",
    "message_posted_subject",
    "messages_erased_subject",
    "room_activity_recorded_subject",
    "room_filter",
]

SenderKind = Literal["human", "agent", "system"]
"""Who wrote a message."""

ArtifactType = Literal["task", "doc", "process"]
"""Kind of room artifact: a board task, a document or a process item."""

ForgetReason = Literal["forgotten", "retention"]
"""Why messages left the history: someone asked, or the room's retention rule pruned them."""


def _room_subject(room_id: str, *tail: str) -> str:
    return join_subject("chat", "room", room_id, *tail)


def message_posted_subject(room_id: str) -> str:
    """``chat.room.<room_id>.message.posted.v1``."""
    return _room_subject(room_id, "message", "posted", "v1")


def messages_erased_subject(room_id: str) -> str:
    """``chat.room.<room_id>.message.erased.v1``."""
    return _room_subject(room_id, "message", "erased", "v1")


def artifact_changed_subject(room_id: str) -> str:
    """``chat.room.<room_id>.artifact.changed.v1``."""
    return _room_subject(room_id, "artifact", "changed", "v1")


def artifact_deleted_subject(room_id: str) -> str:
    """``chat.room.<room_id>.artifact.deleted.v1``."""
    return _room_subject(room_id, "artifact", "deleted", "v1")


def room_activity_recorded_subject(room_id: str) -> str:
    """``chat.room.<room_id>.activity.recorded.v1``."""
    return _room_subject(room_id, "activity", "recorded", "v1")


def room_filter(room_id: str) -> str:
    """``chat.room.<room_id>.>``: every chat event of one room (replay of a single room)."""
    return join_subject("chat", "room", room_id) + ".>"


class MessagePostedData(EventData):
    """A message was stored in a room."""

    message_id: str = Field(min_length=1)
    room_id: SubjectToken
    seq: int = Field(ge=1)
    """Per-room sequence number assigned by chat; clients resume from it."""
    sender_id: str | None = None
    """User id of a human sender, null for agents and system messages."""
    sender_kind: SenderKind
    sender_name: str | None = None
    agent_id: str | None = None
    """Agent configuration id when ``sender_kind`` is ``"agent"``."""
    agent_type: str | None = None
    """The agent's type (``teacher``, ``student``, a custom type) when an agent wrote it."""
    run_id: str | None = None
    """Workflow run that produced an agent message."""
    offline: bool = False
    """True when the reply came from the offline (deterministic, no network) model."""
    stream_id: str | None = None
    """Id of the live token stream (``message_delta`` frames) this stored message replaces."""
    client_msg_id: str | None = None
    """The poster's idempotency key: a retried post with the same key is stored once."""
    content: str
    thread_id: str | None = None
    mentions: tuple[str, ...] = ()
    """Ids or names mentioned in the message (users or agents)."""
    created_at: UtcDatetime


class MessagePostedV1(Event):
    """A message was posted in a room (``chat.room.<room_id>.message.posted.v1``)."""

    FILTER: ClassVar[str] = "chat.room.*.message.posted.v1"

    type: Literal["chat.message.posted"] = "chat.message.posted"
    version: Literal[1] = 1
    data: MessagePostedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return message_posted_subject(self.data.room_id)


class MessagesErasedData(EventData):
    """Messages were removed from a room's history; every copy elsewhere must go too."""

    room_id: SubjectToken
    message_ids: tuple[str, ...] = Field(min_length=1)
    seqs: tuple[int, ...] = ()
    """Sequence numbers of the removed messages (same order as ``message_ids``)."""
    reason: ForgetReason
    forgotten_by: str | None = None
    """User who asked, null for retention pruning."""


class MessagesErasedV1(Event):
    """Tombstone: messages were deleted (``chat.room.<room_id>.message.erased.v1``)."""

    FILTER: ClassVar[str] = "chat.room.*.message.erased.v1"

    type: Literal["chat.message.erased"] = "chat.message.erased"
    version: Literal[1] = 1
    data: MessagesErasedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return messages_erased_subject(self.data.room_id)


class ArtifactChangedData(EventData):
    """An artifact was created or updated; carries its full new state."""

    artifact_id: str = Field(min_length=1)
    room_id: SubjectToken
    artifact_type: ArtifactType
    title: str
    content: dict[str, Any]
    version: int = Field(ge=1)
    """Artifact revision after the change (1 on creation); consumers drop stale revisions."""
    changed_by: str | None = None
    """User id (or agent id) of the editor, null for system edits."""
    parent_artifact_id: str | None = None
    created_by: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class ArtifactChangedV1(Event):
    """An artifact was created or updated (``chat.room.<room_id>.artifact.changed.v1``)."""

    FILTER: ClassVar[str] = "chat.room.*.artifact.changed.v1"

    type: Literal["chat.artifact.changed"] = "chat.artifact.changed"
    version: Literal[1] = 1
    data: ArtifactChangedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return artifact_changed_subject(self.data.room_id)


class ArtifactDeletedData(EventData):
    """An artifact was deleted."""

    artifact_id: str = Field(min_length=1)
    room_id: SubjectToken
    deleted_by: str | None = None
    hard: bool = False
    """True when the artifact and its history were erased, not only hidden."""


class ArtifactDeletedV1(Event):
    """An artifact was deleted (``chat.room.<room_id>.artifact.deleted.v1``)."""

    FILTER: ClassVar[str] = "chat.room.*.artifact.deleted.v1"

    type: Literal["chat.artifact.deleted"] = "chat.artifact.deleted"
    version: Literal[1] = 1
    data: ArtifactDeletedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return artifact_deleted_subject(self.data.room_id)


class RoomActivityRecordedData(EventData):
    """Snapshot of a room's activity counters after a message was stored."""

    room_id: SubjectToken
    last_message_at: UtcDatetime
    last_human_message_at: UtcDatetime | None = None
    """Used by silence triggers; null until a human has written in the room."""
    last_agent_message_at: UtcDatetime | None = None
    message_count: int = Field(ge=0)
    human_message_count: int = Field(default=0, ge=0)
    agent_message_count: int = Field(default=0, ge=0)
    last_seq: int = Field(default=0, ge=0)
    """Sequence number of the message that caused this snapshot."""
    last_sender_kind: SenderKind | None = None


class RoomActivityRecordedV1(Event):
    """Room activity was recorded (``chat.room.<room_id>.activity.recorded.v1``)."""

    FILTER: ClassVar[str] = "chat.room.*.activity.recorded.v1"

    type: Literal["chat.activity.recorded"] = "chat.activity.recorded"
    version: Literal[1] = 1
    data: RoomActivityRecordedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return room_activity_recorded_subject(self.data.room_id)


ChatEvent = (
    MessagePostedV1
    | MessagesErasedV1
    | ArtifactChangedV1
    | ArtifactDeletedV1
    | RoomActivityRecordedV1
)
"""Static type of any chat event."""

CHAT_EVENT_TYPES: tuple[type[Event], ...] = (
    MessagePostedV1,
    MessagesErasedV1,
    ArtifactChangedV1,
    ArtifactDeletedV1,
    RoomActivityRecordedV1,
)
"""Every chat event class, in declaration order."""

CHAT_EVENTS: TypeAdapter[ChatEvent] = TypeAdapter(tagged_union(*CHAT_EVENT_TYPES))
"""Validates any chat event, discriminating on ``type`` and ``version``."""
