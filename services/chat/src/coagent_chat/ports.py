"""What the chat service needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from coagent_chat.artifacts.ports import ArtifactRepository
from coagent_chat.domain import (
    HistoryWindow,
    Message,
    NewMessage,
    RetentionPolicy,
    RoomActivity,
    RoomRetention,
)
from coagent_kit.unit_of_work import UnitOfWorkPort


class MessageRepository(Protocol):
    """The room history; the only writer of message sequence numbers."""

    async def append(self, message: NewMessage) -> tuple[Message, bool]:
        """Store ``message`` as the next one of its room (``seq`` = last ever assigned + 1).

        Returns ``(stored, True)``; if the sender already used ``message.client_msg_id`` in the
        room, nothing is stored, no ``seq`` is consumed and it returns ``(original, False)``.
        Posts to one room are serialised until the transaction ends.
        """
        ...

    async def window(self, room_id: str, window: HistoryWindow) -> list[Message]:
        """The messages of ``room_id`` inside ``window``, oldest first."""
        ...

    async def get(self, room_id: str, message_id: str) -> Message | None:
        """One message of the room, if it is still stored."""
        ...

    async def delete(self, room_id: str, message_ids: Sequence[str]) -> list[Message]:
        """Delete those messages of the room; returns the ones that were still there, by seq."""
        ...

    async def expired(
        self, room_id: str, policy: RetentionPolicy, now: datetime, limit: int
    ) -> list[Message]:
        """Up to ``limit`` of the room's oldest messages that ``policy`` removes at ``now``."""
        ...

    async def authored_by(self, sender_id: str, limit: int) -> list[Message]:
        """Up to ``limit`` human messages ``sender_id`` wrote, in any room, by room and seq."""
        ...


class ActivityRepository(Protocol):
    """Per-room activity counters, written with every stored message."""

    async def get(self, room_id: str) -> RoomActivity | None:
        """The room's counters (callers that write hold the room's post lock)."""
        ...

    async def save(self, activity: RoomActivity) -> None:
        """Insert or replace the room's counters."""
        ...


class RetentionRepository(Protocol):
    """Per-room retention settings and the rooms the pruner must visit."""

    async def get(self, room_id: str) -> RoomRetention | None:
        """The room's own setting, if one was made."""
        ...

    async def save(self, retention: RoomRetention) -> None:
        """Insert or replace the room's setting."""
        ...

    async def rooms(self, with_default: bool) -> list[str]:
        """Rooms that may have messages to prune: with their own setting, or every room with
        history when a fleet default applies."""
        ...

    async def try_lock(self, room_id: str) -> bool:
        """Claim the room for pruning until the transaction ends; False if another pruner has it."""
        ...


class UnitOfWork(UnitOfWorkPort, Protocol):
    """One transaction: state changes, the events they cause and the consumed-event marks."""

    @property
    def messages(self) -> MessageRepository:
        """The room history inside this transaction."""
        ...

    @property
    def activity(self) -> ActivityRepository:
        """Room activity counters inside this transaction."""
        ...

    @property
    def retention(self) -> RetentionRepository:
        """Room retention settings inside this transaction."""
        ...

    @property
    def artifacts(self) -> ArtifactRepository:
        """Room artifacts and their history inside this transaction."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
