"""What the trigger service needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coagent_kit.unit_of_work import UnitOfWorkPort
from coagent_trigger.domain import RoomActivity
from coagent_trigger.policies import Firing, Policy


class RoomActivityRepository(Protocol):
    """The local projection of every room's activity, built from chat's events."""

    async def get(self, room_id: str, *, for_update: bool = False) -> RoomActivity | None:
        """The activity of ``room_id``; ``for_update`` holds off other writers of that room
        until the unit of work ends (also while the room has no row yet)."""
        ...

    async def save(self, activity: RoomActivity) -> None:
        """Insert or replace the activity of ``activity.room_id``."""
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

    async def active_for_room(self, event_type: str, room_id: str) -> list[Policy]:
        """Active policies of ``event_type`` scoped to ``room_id`` or to no room."""
        ...


class FiringRepository(Protocol):
    """The firing log: one row per firing key, whatever its outcome."""

    async def add(self, firing: Firing) -> bool:
        """Record ``firing``; False (and nothing written) if its key is already logged."""
        ...

    async def latest(self, policy_id: str, limit: int) -> list[Firing]:
        """The latest ``limit`` firings of ``policy_id``, newest first."""
        ...


class CounterRepository(Protocol):
    """How many messages of a room matched a policy (for ``message_count``)."""

    async def increment(self, policy_id: str, room_id: str) -> int:
        """Add one match and return the new total; serialises writers of the same pair."""
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
    def firings(self) -> FiringRepository:
        """The firing log."""
        ...

    @property
    def counters(self) -> CounterRepository:
        """Per (policy, room) match counters."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
