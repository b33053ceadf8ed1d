"""In-memory implementations of every chat port (unit tests, local experiments)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from coagent_chat.domain import Message, NewMessage
from coagent_contracts.envelope import Event


class MemoryStore:
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        self.messages: dict[str, list[Message]] = {}
        self.published: list[Event] = []
        self.claimed: set[tuple[str, str]] = set()


class MemoryMessageRepository:
    """Appends to a staging list; the unit of work merges it on commit."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: list[Message] = []

    async def append(self, message: NewMessage) -> Message:
        room = self._store.messages.get(message.room_id, [])
        staged_here = [m for m in self.staged if m.body.room_id == message.room_id]
        seq = len(room) + len(staged_here) + 1
        stored = Message(str(uuid.uuid4()), seq, datetime.now(UTC), message)
        self.staged.append(stored)
        return stored

    async def list_after(self, room_id: str, after_seq: int, limit: int) -> list[Message]:
        room = self._store.messages.get(room_id, [])
        return [m for m in room if m.seq > after_seq][:limit]


class MemoryUnitOfWork:
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        self.messages = MemoryMessageRepository(self._store)
        self._events: list[Event] = []
        self._claims: set[tuple[str, str]] = set()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def publish(self, event: Event) -> None:
        self._events.append(event)

    async def claim(self, consumer: str, event_id: str) -> bool:
        key = (consumer, event_id)
        if key in self._store.claimed or key in self._claims:
            return False
        self._claims.add(key)
        return True

    async def commit(self) -> None:
        for message in self.messages.staged:
            self._store.messages.setdefault(message.body.room_id, []).append(message)
        self._store.published.extend(self._events)
        self._store.claimed |= self._claims
        self.messages.staged = []
        self._events, self._claims = [], set()
