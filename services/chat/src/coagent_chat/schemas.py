"""HTTP shapes of the chat service's internal API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from coagent_chat.domain import (
    MAX_CLIENT_MSG_ID_CHARS,
    MAX_CONTENT_CHARS,
    MAX_RETENTION_DAYS,
    Message,
    RoomActivity,
    SenderKind,
)
from coagent_chat.retention import RetentionView


class PostMessage(BaseModel):
    """A message posted by the calling user."""

    content: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS)
    sender_name: str | None = Field(default=None, max_length=255)
    thread_id: str | None = Field(default=None, max_length=64)
    mentions: list[str] = Field(default_factory=list, max_length=50)
    client_msg_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CLIENT_MSG_ID_CHARS,
        description="Idempotency key; wins over the Idempotency-Key header",
    )


class MessageRead(BaseModel):
    """A stored message; ``seq`` is its place in the room."""

    id: str
    room_id: str
    seq: int
    sender_kind: SenderKind
    sender_id: str | None
    sender_name: str | None
    agent_id: str | None
    agent_type: str | None = None
    run_id: str | None = None
    offline: bool = False
    stream_id: str | None = None
    client_msg_id: str | None = None
    thread_id: str | None
    mentions: list[str]
    content: str
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> MessageRead:
        """The HTTP view of a stored message."""
        b = message.body
        return cls(
            id=message.id,
            room_id=b.room_id,
            seq=message.seq,
            sender_kind=b.sender_kind,
            sender_id=b.sender_id,
            sender_name=b.sender_name,
            agent_id=b.agent_id,
            agent_type=b.agent_type,
            run_id=b.run_id,
            offline=b.offline,
            stream_id=b.stream_id,
            client_msg_id=b.client_msg_id,
            thread_id=b.thread_id,
            mentions=list(b.mentions),
            content=b.content,
            created_at=message.created_at,
        )


class ActivityRead(BaseModel):
    """A room's activity counters (every message ever stored, erasures included)."""

    room_id: str
    last_message_at: datetime
    last_human_message_at: datetime | None
    last_agent_message_at: datetime | None
    message_count: int
    human_message_count: int
    agent_message_count: int
    last_seq: int
    last_sender_kind: SenderKind | None

    @classmethod
    def of(cls, activity: RoomActivity) -> ActivityRead:
        """The HTTP view of the counters."""
        return cls(**vars(activity))


class RetentionUpdate(BaseModel):
    """A room's retention; an omitted or null limit falls back to the fleet default."""

    max_age_days: float | None = Field(default=None, gt=0, le=MAX_RETENTION_DAYS)
    max_messages: int | None = Field(default=None, ge=1)


class RetentionRead(BaseModel):
    """The room's own limits and the ones actually enforced."""

    room_id: str
    max_age_days: float | None
    max_messages: int | None
    effective_max_age_days: float | None
    effective_max_messages: int | None

    @classmethod
    def of(cls, view: RetentionView) -> RetentionRead:
        """The HTTP view of a room's retention."""
        return cls(
            room_id=view.room_id,
            max_age_days=view.own.max_age_days,
            max_messages=view.own.max_messages,
            effective_max_age_days=view.effective.max_age_days,
            effective_max_messages=view.effective.max_messages,
        )
