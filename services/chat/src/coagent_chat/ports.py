"""What the chat service needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from coagent_chat.domain import Message, NewMessage
from coagent_contracts.envelope import Event


class MessageRepository(Protocol):
    """The room history; the only writer of message sequence numbers."""

    async def append(self, message: NewMessage) -> Message:
        """Store ``message`` as the next one of its room (``seq`` = previous + 1)."""
        ...

    async def list_after(self, room_id: str, after_seq: int, limit: int) -> list[Message]:
        """Messages of ``room_id`` with ``seq > after_seq``, oldest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction: state changes, the events they cause and the consumed-event marks."""

    @property
    def messages(self) -> MessageRepository:
        """The room history inside this transaction."""
        ...

    async def publish(self, event: Event) -> None:
        """Queue ``event``; it is sent only if the transaction commits."""
        ...

    async def claim(self, consumer: str, event_id: str) -> bool:
        """False if ``consumer`` already applied ``event_id`` (a redelivery)."""
        ...

    async def commit(self) -> None:
        """Make everything done in this unit durable; otherwise it is rolled back on exit."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
