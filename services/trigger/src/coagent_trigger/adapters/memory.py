"""In-memory implementations of every trigger port (unit tests, local experiments)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from coagent_kit.unit_of_work import MemoryEventLog
from coagent_kit.unit_of_work import MemoryUnitOfWork as KitMemoryUnitOfWork
from coagent_trigger.adapters.memory_rooms import MemoryRoomRepository
from coagent_trigger.adapters.memory_schedules import (
    MemoryBurstRepository,
    MemoryClockRepository,
    MemoryScheduleQueue,
    TimerMemory,
)
from coagent_trigger.domain import RoomActivity
from coagent_trigger.overlap import BufferedFiring, TrackedRun, newest_fired
from coagent_trigger.policies import Firing, FiringOutcome, Policy
from coagent_trigger.rooms import RoomView


class MemoryStore(MemoryEventLog):
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        super().__init__()
        self.activity: dict[str, RoomActivity] = {}
        self.policies: dict[str, Policy] = {}
        self.firings: dict[str, Firing] = {}
        self.counters: dict[tuple[str, str], int] = {}
        self.tracked_runs: dict[str, TrackedRun] = {}
        self.buffered: dict[tuple[str, str], BufferedFiring] = {}
        self.timers = TimerMemory()
        self.rooms: dict[str, RoomView] = {}


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

    async def with_human_messages(self) -> list[RoomActivity]:
        merged = {**self._store.activity, **self.staged}
        return [a for a in merged.values() if a.last_human_message_at is not None]


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

    async def active_for_room(
        self, event_type: str, room_id: str, course_id: str | None
    ) -> list[Policy]:
        return [
            p
            for p in self._all().values()
            if p.is_active and p.event_type == event_type and p.covers_room(room_id, course_id)
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

    async def by_key(self, firing_key: str) -> Firing | None:
        return self.staged.get(firing_key, self._store.firings.get(firing_key))

    async def set_outcome(
        self, firing_key: str, outcome: FiringOutcome, detail: dict[str, Any]
    ) -> None:
        current = await self.by_key(firing_key)
        if current is not None:
            self.staged[firing_key] = replace(current, outcome=outcome, detail=detail)


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


class MemoryOverlapRepository:
    """Staged tracked runs and held-back firings over the store's."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: dict[str, TrackedRun] = {}
        self.held: dict[tuple[str, str], BufferedFiring | None] = {}
        self.forgotten: set[str] = set()

    async def lock(self, policy_id: str, room_key: str) -> None:
        return None  # never suspends between read and write: nothing to serialise

    async def tracked(self, policy_id: str, room_key: str) -> list[TrackedRun]:
        every = {**self._store.tracked_runs, **self.staged}.values()
        return [
            r
            for r in every
            if r.policy_id == policy_id and r.room_key == room_key and r.state != "ended"
        ]

    async def get(self, firing_key: str) -> TrackedRun | None:
        if firing_key in self.forgotten and firing_key not in self.staged:
            return None
        return self.staged.get(firing_key, self._store.tracked_runs.get(firing_key))

    async def save(self, run: TrackedRun) -> None:
        self.staged[run.firing_key] = run

    def _visible(self) -> list[TrackedRun]:
        every = {**self._store.tracked_runs, **self.staged}
        return [r for k, r in every.items() if k not in self.forgotten or k in self.staged]

    async def prune(self, policy_id: str, room_key: str, ended_before: datetime, keep: int) -> None:
        slot = [r for r in self._visible() if (r.policy_id, r.room_key) == (policy_id, room_key)]
        latest = {r.firing_key for r in newest_fired(slot)[:keep]}
        for run in slot:
            old = run.state == "ended" and run.updated_at < ended_before
            if old and run.firing_key not in latest:
                self.forgotten.add(run.firing_key)
                self.staged.pop(run.firing_key, None)

    async def runs(self, policy_id: str, limit: int) -> list[TrackedRun]:
        announced = [r for r in self._visible() if r.policy_id == policy_id and r.run_id]
        return newest_fired(announced)[:limit]

    async def buffered(self, policy_id: str, room_key: str) -> BufferedFiring | None:
        slot = (policy_id, room_key)
        return self.held[slot] if slot in self.held else self._store.buffered.get(slot)

    async def hold(self, firing: BufferedFiring) -> None:
        self.held[(firing.policy_id, firing.room_key)] = firing

    async def release(self, policy_id: str, room_key: str) -> None:
        self.held[(policy_id, room_key)] = None


class MemoryUnitOfWork(KitMemoryUnitOfWork):
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self._store = store

    def begin(self) -> None:
        self.activity = MemoryRoomActivityRepository(self._store)
        self.policies = MemoryPolicyRepository(self._store)
        self.rooms = MemoryRoomRepository(self._store.rooms)
        self.firings = MemoryFiringRepository(self._store)
        self.counters = MemoryCounterRepository(self._store)
        self.overlap = MemoryOverlapRepository(self._store)
        self.schedules = MemoryScheduleQueue(self._store.timers)
        self.clocks = MemoryClockRepository(self._store.timers)
        self.bursts = MemoryBurstRepository(self._store.timers)

    def apply(self) -> None:
        self.schedules.apply()
        self.clocks.apply()
        self.bursts.apply()
        self._store.activity.update(self.activity.staged)
        self._store.rooms.update(self.rooms.staged)
        self._store.policies.update(self.policies.staged)
        for policy_id in self.policies.deleted:
            self._store.policies.pop(policy_id, None)
            self._store.timers.forget_policy(policy_id)
            self._store.firings = {
                k: f for k, f in self._store.firings.items() if f.policy_id != policy_id
            }
            self._store.counters = {
                k: v for k, v in self._store.counters.items() if k[0] != policy_id
            }
        self._store.firings.update(self.firings.staged)
        self._store.counters.update(self.counters.staged)
        for key in self.overlap.forgotten:
            self._store.tracked_runs.pop(key, None)
        self._store.tracked_runs.update(self.overlap.staged)
        for slot, held in self.overlap.held.items():
            if held is None:
                self._store.buffered.pop(slot, None)
            else:
                self._store.buffered[slot] = held
