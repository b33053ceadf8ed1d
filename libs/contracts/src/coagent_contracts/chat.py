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
    "MessagePostedData",
    "MessagePostedV1",
    "RoomActivityRecordedData",
    "RoomActivityRecordedV1",
    "SenderKind",
    "artifact_changed_subject",
    "artifact_deleted_subject",
    "message_posted_subject",
    "room_activity_recorded_subject",
    "room_filter",
]

SenderKind = Literal["human", "agent", "system"]
"""Who wrote a message."""

ArtifactType = Literal["task", "doc", "process"]
"""Kind of room artifact: a board task, a document or a process item."""


def _room_subject(room_id: str, *tail: str) -> str:
    return join_subject("chat", "room", room_id, *tail)


def message_posted_subject(room_id: str) -> str:
    """``chat.room.<room_id>.message.posted.v1``."""
    return _room_subject(room_id, "message", "posted", "v1")


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
    """User id of the editor, null for system or agent edits."""


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
    message_count: int = Field(ge=0)


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


ChatEvent = MessagePostedV1 | ArtifactChangedV1 | ArtifactDeletedV1 | RoomActivityRecordedV1
"""Static type of any chat event."""

CHAT_EVENT_TYPES: tuple[type[Event], ...] = (
    MessagePostedV1,
    ArtifactChangedV1,
    ArtifactDeletedV1,
    RoomActivityRecordedV1,
)
"""Every chat event class, in declaration order."""

CHAT_EVENTS: TypeAdapter[ChatEvent] = TypeAdapter(tagged_union(*CHAT_EVENT_TYPES))
"""Validates any chat event, discriminating on ``type`` and ``version``."""
