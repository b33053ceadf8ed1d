"""In-memory implementations of every chat port (unit tests, local experiments)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from coagent_chat.domain import Message, NewMessage
from coagent_kit.unit_of_work import MemoryEventLog
from coagent_kit.unit_of_work import MemoryUnitOfWork as KitMemoryUnitOfWork


class MemoryStore(MemoryEventLog):
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, list[Message]] = {}


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


class MemoryUnitOfWork(KitMemoryUnitOfWork):
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self._store = store

    def begin(self) -> None:
        self.messages = MemoryMessageRepository(self._store)

    def apply(self) -> None:
        for message in self.messages.staged:
            self._store.messages.setdefault(message.body.room_id, []).append(message)
