"""Messages of a room: pure types and rules (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from coagent_kit.errors import Unprocessable

SenderKind = Literal["human", "agent", "system"]
MAX_CONTENT_CHARS = 32_000


class InvalidMessage(Unprocessable):
    code = "invalid_message"


@dataclass(frozen=True)
class NewMessage:
    """A message before the room history has given it a place (``seq``)."""

    room_id: str
    content: str
    sender_kind: SenderKind
    sender_id: str | None = None
    sender_name: str | None = None
    agent_id: str | None = None
    thread_id: str | None = None
    mentions: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.content.strip():
            raise InvalidMessage("A message needs some content")
        if len(self.content) > MAX_CONTENT_CHARS:
            raise InvalidMessage(f"A message holds at most {MAX_CONTENT_CHARS} characters")


@dataclass(frozen=True)
class Message:
    """A stored message: ``seq`` orders it in its room and is what clients resume from."""

    id: str
    seq: int
    created_at: datetime
    body: NewMessage
