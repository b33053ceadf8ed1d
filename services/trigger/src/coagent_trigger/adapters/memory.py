"""In-memory implementations of every trigger port (unit tests, local experiments)."""

from __future__ import annotations

from coagent_kit.unit_of_work import MemoryEventLog
from coagent_kit.unit_of_work import MemoryUnitOfWork as KitMemoryUnitOfWork
from coagent_trigger.domain import RoomActivity
from coagent_trigger.policies import Firing, Policy


class MemoryStore(MemoryEventLog):
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        super().__init__()
        self.activity: dict[str, RoomActivity] = {}
        self.policies: dict[str, Policy] = {}
        self.firings: dict[str, Firing] = {}
        self.counters: dict[tuple[str, str], int] = {}


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


class MemoryPolicyRepository:
    """Staged upserts and deletions over the store's policies."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: dict[str, Policy] = {}
        self.deleted: set[str] = set()

    def _all(self) -> dict[str, Policy]:
        merged = {**self._store.policies, **self.staged}
        return {k: v for k, v in merged.items() if k not in self.deleted}

    async def get(self, policy_id: str) -> Policy | None:
        return self._all().get(policy_id)

    async def owned_by(self, created_by: str | None) -> list[Policy]:
        found = [p for p in self._all().values() if created_by in (None, p.created_by)]
        return sorted(found, key=lambda p: (p.created_at, p.id), reverse=True)

    async def save(self, policy: Policy) -> None:
        self.deleted.discard(policy.id)
        self.staged[policy.id] = policy

    async def delete(self, policy_id: str) -> None:
        self.staged.pop(policy_id, None)
        self.deleted.add(policy_id)

    async def active_for_room(self, event_type: str, room_id: str) -> list[Policy]:
        return [
            p
            for p in self._all().values()
            if p.is_active and p.event_type == event_type and p.covers_room(room_id)
        ]


class MemoryFiringRepository:
    """Staged firings; a key already committed or staged is refused like the unique index."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: dict[str, Firing] = {}

    async def add(self, firing: Firing) -> bool:
        if firing.firing_key in self._store.firings or firing.firing_key in self.staged:
            return False
        self.staged[firing.firing_key] = firing
        return True

    async def latest(self, policy_id: str, limit: int) -> list[Firing]:
        every = {**self._store.firings, **self.staged}.values()
        found = [f for f in every if f.policy_id == policy_id]
        return sorted(found, key=lambda f: (f.created_at, f.id), reverse=True)[:limit]


class MemoryCounterRepository:
    """Staged counter values over the store's."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: dict[tuple[str, str], int] = {}

    async def increment(self, policy_id: str, room_id: str) -> int:
        key = (policy_id, room_id)
        value = self.staged.get(key, self._store.counters.get(key, 0)) + 1
        self.staged[key] = value
        return value


class MemoryUnitOfWork(KitMemoryUnitOfWork):
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self._store = store

    def begin(self) -> None:
        self.activity = MemoryRoomActivityRepository(self._store)
        self.policies = MemoryPolicyRepository(self._store)
        self.firings = MemoryFiringRepository(self._store)
        self.counters = MemoryCounterRepository(self._store)

    def apply(self) -> None:
        self._store.activity.update(self.activity.staged)
        self._store.policies.update(self.policies.staged)
        for policy_id in self.policies.deleted:
            self._store.policies.pop(policy_id, None)
            self._store.firings = {
                k: f for k, f in self._store.firings.items() if f.policy_id != policy_id
            }
            self._store.counters = {
                k: v for k, v in self._store.counters.items() if k[0] != policy_id
            }
        self._store.firings.update(self.firings.staged)
        self._store.counters.update(self.counters.staged)
