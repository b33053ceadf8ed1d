"""In-memory implementations of every chat port (unit tests, local experiments)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from coagent_chat.adapters.memory_artifacts import MemoryArtifactRepository, MemoryArtifactState
from coagent_chat.domain import (
    HistoryWindow,
    Message,
    NewMessage,
    RetentionPolicy,
    RoomActivity,
    RoomRetention,
    expired,
)
from coagent_kit.unit_of_work import MemoryEventLog
from coagent_kit.unit_of_work import MemoryUnitOfWork as KitMemoryUnitOfWork


class MemoryStore(MemoryEventLog):
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, list[Message]] = {}
        self.last_seq: dict[str, int] = {}
        self.activity: dict[str, RoomActivity] = {}
        self.retention: dict[str, RoomRetention] = {}
        self.artifact_state = MemoryArtifactState()


class MemoryMessageRepository:
    """Stages appends and erasures; the unit of work merges them on commit."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: list[Message] = []
        self.erased: set[str] = set()

    def _room(self, room_id: str) -> list[Message]:
        committed = self._store.messages.get(room_id, [])
        staged = [m for m in self.staged if m.body.room_id == room_id]
        return sorted(
            (m for m in committed + staged if m.id not in self.erased), key=lambda m: m.seq
        )

    def _last_seq(self, room_id: str) -> int:
        staged = [m.seq for m in self.staged if m.body.room_id == room_id]
        return max([self._store.last_seq.get(room_id, 0), *staged])

    async def append(self, message: NewMessage) -> tuple[Message, bool]:
        if message.client_msg_id is not None:
            for m in self._room(message.room_id):
                if (m.body.sender_id, m.body.client_msg_id) == (
                    message.sender_id,
                    message.client_msg_id,
                ):
                    return m, False
        seq = self._last_seq(message.room_id) + 1
        stored = Message(str(uuid.uuid4()), seq, datetime.now(UTC), message)
        self.staged.append(stored)
        return stored, True

    async def window(self, room_id: str, window: HistoryWindow) -> list[Message]:
        return window.select(self._room(room_id))

    async def get(self, room_id: str, message_id: str) -> Message | None:
        return next((m for m in self._room(room_id) if m.id == message_id), None)

    async def delete(self, room_id: str, message_ids: Sequence[str]) -> list[Message]:
        wanted = set(message_ids)
        gone = [m for m in self._room(room_id) if m.id in wanted]
        self.erased |= {m.id for m in gone}
        return gone

    async def expired(
        self, room_id: str, policy: RetentionPolicy, now: datetime, limit: int
    ) -> list[Message]:
        return expired(self._room(room_id), policy, now)[:limit]

    async def authored_by(self, sender_id: str, limit: int) -> list[Message]:
        rooms = set(self._store.messages) | {m.body.room_id for m in self.staged}
        found = [
            m
            for room_id in sorted(rooms)
            for m in self._room(room_id)
            if m.body.sender_kind == "human" and m.body.sender_id == sender_id
        ]
        return found[:limit]

    def apply(self) -> None:
        """Merge staged writes into the store."""
        for room_id, room in self._store.messages.items():
            self._store.messages[room_id] = [m for m in room if m.id not in self.erased]
        for message in self.staged:
            room_id = message.body.room_id
            self._store.last_seq[room_id] = max(self._store.last_seq.get(room_id, 0), message.seq)
            if message.id not in self.erased:
                self._store.messages.setdefault(room_id, []).append(message)


class MemoryActivityRepository:
    """Staged counters per room."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: dict[str, RoomActivity] = {}

    async def get(self, room_id: str) -> RoomActivity | None:
        return self.staged.get(room_id) or self._store.activity.get(room_id)

    async def save(self, activity: RoomActivity) -> None:
        self.staged[activity.room_id] = activity


class MemoryRetentionRepository:
    """Staged room settings; one process, so the prune lock is always free."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: dict[str, RoomRetention] = {}

    async def get(self, room_id: str) -> RoomRetention | None:
        return self.staged.get(room_id) or self._store.retention.get(room_id)

    async def save(self, retention: RoomRetention) -> None:
        self.staged[retention.room_id] = retention

    async def rooms(self, with_default: bool) -> list[str]:
        if with_default:
            return sorted(self._store.last_seq)
        settings = {**self._store.retention, **self.staged}.values()
        return sorted(r.room_id for r in settings if r.policy.prunes)

    async def try_lock(self, room_id: str) -> bool:
        return True


class MemoryUnitOfWork(KitMemoryUnitOfWork):
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self._store = store

    def begin(self) -> None:
        self.messages = MemoryMessageRepository(self._store)
        self.activity = MemoryActivityRepository(self._store)
        self.retention = MemoryRetentionRepository(self._store)
        self.artifacts = MemoryArtifactRepository(self._store.artifact_state)

    def apply(self) -> None:
        self.artifacts.apply()
        self.messages.apply()
        self._store.activity.update(self.activity.staged)
        self._store.retention.update(self.retention.staged)
