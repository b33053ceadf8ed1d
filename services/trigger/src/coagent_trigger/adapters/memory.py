"""In-memory implementations of every trigger port (unit tests, local experiments)."""

from __future__ import annotations

from coagent_kit.unit_of_work import MemoryEventLog
from coagent_kit.unit_of_work import MemoryUnitOfWork as KitMemoryUnitOfWork
from coagent_trigger.domain import RoomActivity


class MemoryStore(MemoryEventLog):
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        super().__init__()
        self.activity: dict[str, RoomActivity] = {}


class MemoryRoomActivityRepository:
    """Reads through a staging dict; the unit of work merges it on commit."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: dict[str, RoomActivity] = {}

    async def get(self, room_id: str, *, for_update: bool = False) -> RoomActivity | None:
        # These methods never suspend, so units of work cannot interleave: nothing to lock.
        return self.staged.get(room_id, self._store.activity.get(room_id))

    async def save(self, activity: RoomActivity) -> None:
        self.staged[activity.room_id] = activity


class MemoryUnitOfWork(KitMemoryUnitOfWork):
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self._store = store

    def begin(self) -> None:
        self.activity = MemoryRoomActivityRepository(self._store)

    def apply(self) -> None:
        self._store.activity.update(self.activity.staged)
