"""What the trigger service needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coagent_kit.unit_of_work import UnitOfWorkPort
from coagent_trigger.domain import RoomActivity


class RoomActivityRepository(Protocol):
    """The local projection of every room's activity, built from chat's events."""

    async def get(self, room_id: str, *, for_update: bool = False) -> RoomActivity | None:
        """The activity of ``room_id``; ``for_update`` holds off other writers of that room
        until the unit of work ends (also while the room has no row yet)."""
        ...

    async def save(self, activity: RoomActivity) -> None:
        """Insert or replace the activity of ``activity.room_id``."""
        ...


class UnitOfWork(UnitOfWorkPort, Protocol):
    """One transaction: state changes, the events they cause and the consumed-event marks."""

    # A read-only property rather than an attribute: protocol attributes are invariant, so an
    # adapter's concrete repository type would not match a plain ``activity: ...`` member.
    @property
    def activity(self) -> RoomActivityRepository:
        """Room activity, read and written inside this unit."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
