"""What the trigger service needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from coagent_kit.unit_of_work import UnitOfWorkPort
from coagent_trigger.domain import RoomActivity
from coagent_trigger.overlap import BufferedFiring, TrackedRun
from coagent_trigger.policies import Firing, FiringOutcome, Policy
from coagent_trigger.rooms import RoomView
from coagent_trigger.schedules import Arm, Burst, ClockState


class RoomActivityRepository(Protocol):
    """The local projection of every room's activity, built from chat's events."""

    async def get(self, room_id: str, *, for_update: bool = False) -> RoomActivity | None:
        """The activity of ``room_id``; ``for_update`` holds off other writers of that room
        until the unit of work ends (also while the room has no row yet)."""
        ...

    async def save(self, activity: RoomActivity) -> None:
        """Insert or replace the activity of ``activity.room_id``."""
        ...

    async def with_human_messages(self) -> list[RoomActivity]:
        """Every room that has had a human message (what an unscoped silence policy covers)."""
        ...


class RoomRepository(Protocol):
    """The projection of the gateway's rooms (attached workflow, attacher, course)."""

    async def get(self, room_id: str) -> RoomView | None:
        """The room as last seen, if any event about it arrived."""
        ...

    async def ids_in_course(self, course_id: str) -> set[str]:
        """Ids of the known, not deleted rooms of ``course_id``."""
        ...

    async def apply(self, room: RoomView) -> bool:
        """Store ``room`` unless the stored row is newer (``changed_at``); True if stored."""
        ...


class PolicyRepository(Protocol):
    """Trigger policies, owned by their creators."""

    async def get(self, policy_id: str) -> Policy | None:
        """The policy ``policy_id`` whoever owns it (callers check visibility)."""
        ...

    async def owned_by(self, created_by: str | None) -> list[Policy]:
        """Policies of ``created_by`` (every policy when ``None``), newest first."""
        ...

    async def save(self, policy: Policy) -> None:
        """Insert or replace ``policy``."""
        ...

    async def delete(self, policy_id: str) -> None:
        """Remove the policy with its counters and firing log."""
        ...

    async def active_for_room(
        self, event_type: str, room_id: str, course_id: str | None
    ) -> list[Policy]:
        """Active policies of ``event_type`` whose scope covers ``room_id``: scoped to it, to
        its course ``course_id`` (None: the room's course is not known, no course scope
        covers it) or unscoped. Whether their owners may act on the room is not decided here."""
        ...


class FiringRepository(Protocol):
    """The firing log: one row per firing key, whatever its outcome."""

    async def add(self, firing: Firing) -> bool:
        """Record ``firing``; False (and nothing written) if its key is already logged."""
        ...

    async def latest(self, policy_id: str, limit: int) -> list[Firing]:
        """The latest ``limit`` firings of ``policy_id``, newest first."""
        ...

    async def by_key(self, firing_key: str) -> Firing | None:
        """The firing logged under ``firing_key``, if any."""
        ...

    async def set_outcome(
        self, firing_key: str, outcome: FiringOutcome, detail: dict[str, Any]
    ) -> None:
        """Record what finally became of a held-back firing (e.g. a buffered one fired)."""
        ...


class CounterRepository(Protocol):
    """How many messages of a room matched a policy (for ``message_count``)."""

    async def increment(self, policy_id: str, room_id: str) -> int:
        """Add one match and return the new total; serialises writers of the same pair."""
        ...


class OverlapRepository(Protocol):
    """Runs in progress per (policy, room), from the engine's run lifecycle events."""

    async def lock(self, policy_id: str, room_key: str) -> None:
        """Hold off other writers of this (policy, room) slot until the unit of work ends."""
        ...

    async def tracked(self, policy_id: str, room_key: str) -> list[TrackedRun]:
        """Firings of the slot not known to have ended."""
        ...

    async def get(self, firing_key: str) -> TrackedRun | None:
        """The tracked run of one firing."""
        ...

    async def save(self, run: TrackedRun) -> None:
        """Insert or replace the tracked run of ``run.firing_key``."""
        ...

    async def prune(self, policy_id: str, room_key: str, ended_before: datetime, keep: int) -> None:
        """Forget the slot's runs that ended before ``ended_before`` (kept that long so a late
        lifecycle event of an ended run cannot reopen it), except the ``keep`` latest fired
        (the policy's run list)."""
        ...

    async def runs(self, policy_id: str, limit: int) -> list[TrackedRun]:
        """The latest ``limit`` runs the engine announced for the policy, newest fired first."""
        ...

    async def buffered(self, policy_id: str, room_key: str) -> BufferedFiring | None:
        """The firing held back for the slot, if any."""
        ...

    async def hold(self, firing: BufferedFiring) -> None:
        """Hold ``firing`` back for its slot, replacing any earlier one."""
        ...

    async def release(self, policy_id: str, room_key: str) -> None:
        """Forget the slot's held-back firing."""
        ...


class ScheduleQueue(Protocol):
    """Schedules armed in this unit of work; they reach the broker only if it commits."""

    async def arm(self, arm: Arm) -> None:
        """Queue ``arm`` (published in commit order, so a later arm of a slot wins)."""
        ...


class ClockRepository(Protocol):
    """The armed instant of every active timer and cron policy."""

    async def get(self, policy_id: str, *, for_update: bool = False) -> ClockState | None:
        """The clock of ``policy_id``; ``for_update`` locks it until the unit of work ends."""
        ...

    async def save(self, state: ClockState) -> None:
        """Insert or replace the clock of ``state.policy_id``."""
        ...

    async def delete(self, policy_id: str) -> None:
        """Forget the clock of ``policy_id`` (its pending schedule then finds nothing)."""
        ...


class BurstRepository(Protocol):
    """Open debounce windows, one per (policy, room)."""

    async def observe(
        self,
        policy_id: str,
        room_id: str,
        now: datetime,
        seq: int,
        event_id: str,
        payload: dict[str, Any],
    ) -> Burst:
        """Count one more match into the window (opening it at ``now`` if there is none);
        the message with the highest room ``seq`` is the window's last, whatever the delivery
        order. Serialises writers of the same pair; the returned ``due_at`` is not updated yet."""
        ...

    async def set_due(self, policy_id: str, room_id: str, due_at: datetime) -> None:
        """Store when the window of the pair closes."""
        ...

    async def take(self, policy_id: str, room_id: str) -> Burst | None:
        """The open window of the pair, locked until the unit of work ends."""
        ...

    async def delete(self, policy_id: str, room_id: str) -> None:
        """Close the window of the pair."""
        ...


class ScheduleCanceller(Protocol):
    """Removes a policy's pending schedules from the broker (after the policy stopped)."""

    async def cancel(self, policy_id: str) -> None:
        """Best effort: a schedule that survives finds the policy gone or paused when due."""
        ...


class UnitOfWork(UnitOfWorkPort, Protocol):
    """One transaction: state changes, the events they cause and the consumed-event marks."""

    # A read-only property rather than an attribute: protocol attributes are invariant, so an
    # adapter's concrete repository type would not match a plain ``activity: ...`` member.
    @property
    def activity(self) -> RoomActivityRepository:
        """Room activity, read and written inside this unit."""
        ...

    @property
    def policies(self) -> PolicyRepository:
        """Trigger policies."""
        ...

    @property
    def rooms(self) -> RoomRepository:
        """The gateway's rooms, as projected from its events."""
        ...

    @property
    def firings(self) -> FiringRepository:
        """The firing log."""
        ...

    @property
    def counters(self) -> CounterRepository:
        """Per (policy, room) match counters."""
        ...

    @property
    def schedules(self) -> ScheduleQueue:
        """Timer schedules to arm when this unit commits."""
        ...

    @property
    def clocks(self) -> ClockRepository:
        """Timer and cron clocks."""
        ...

    @property
    def bursts(self) -> BurstRepository:
        """Debounce windows."""
        ...

    @property
    def overlap(self) -> OverlapRepository:
        """Runs in progress and held-back firings, per (policy, room)."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
