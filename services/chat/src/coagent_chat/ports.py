"""What the chat service needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coagent_chat.domain import Message, NewMessage
from coagent_kit.unit_of_work import UnitOfWorkPort


class MessageRepository(Protocol):
    """The room history; the only writer of message sequence numbers."""

    async def append(self, message: NewMessage) -> Message:
        """Store ``message`` as the next one of its room (``seq`` = previous + 1)."""
        ...

    async def list_after(self, room_id: str, after_seq: int, limit: int) -> list[Message]:
        """Messages of ``room_id`` with ``seq > after_seq``, oldest first."""
        ...


class UnitOfWork(UnitOfWorkPort, Protocol):
    """One transaction: state changes, the events they cause and the consumed-event marks."""

    @property
    def messages(self) -> MessageRepository:
        """The room history inside this transaction."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
