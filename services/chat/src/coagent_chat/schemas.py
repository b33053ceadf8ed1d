"""HTTP shapes of the chat service's internal API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from coagent_chat.domain import MAX_CONTENT_CHARS, Message, SenderKind


class PostMessage(BaseModel):
    """A message posted by the calling user."""

    content: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS)
    sender_name: str | None = Field(default=None, max_length=255)
    thread_id: str | None = Field(default=None, max_length=64)
    mentions: list[str] = Field(default_factory=list, max_length=50)


class MessageRead(BaseModel):
    """A stored message; ``seq`` is its place in the room."""

    id: str
    room_id: str
    seq: int
    sender_kind: SenderKind
    sender_id: str | None
    sender_name: str | None
    agent_id: str | None
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
            thread_id=b.thread_id,
            mentions=list(b.mentions),
            content=b.content,
            created_at=message.created_at,
        )
