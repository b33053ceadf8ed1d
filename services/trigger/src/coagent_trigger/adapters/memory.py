"""In-memory implementations of every trigger port (unit tests, local experiments)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from coagent_contracts.envelope import Event
from coagent_trigger.domain import RoomActivity


class MemoryStore:
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        self.activity: dict[str, RoomActivity] = {}
        self.published: list[Event] = []
        self.claimed: set[tuple[str, str]] = set()


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


class MemoryUnitOfWork:
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        self.activity = MemoryRoomActivityRepository(self._store)
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
        self._store.activity.update(self.activity.staged)
        self._store.published.extend(self._events)
        self._store.claimed |= self._claims
        self.activity.staged = {}
        self._events, self._claims = [], set()
