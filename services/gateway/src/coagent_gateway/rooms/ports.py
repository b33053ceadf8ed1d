"""What the room feature needs from storage."""

from __future__ import annotations

from typing import Protocol

from coagent_contracts.gateway import MembershipChangedV1, RoomChangedV1
from coagent_gateway.rooms.domain import Room, RoomAccess, RoomSettings


class RoomStore(Protocol):
    """Rooms and room assignments; assignment writes commit with their events."""

    async def create(self, room: Room, event: RoomChangedV1 | None = None) -> None:
        """Insert a room (and queue ``event`` in the same transaction)."""
        ...

    async def get(self, room_id: str) -> Room | None:
        """The room with its assigned members, or None."""
        ...

    async def access(self, room_id: str, user_id: str) -> RoomAccess | None:
        """The room (without its member list), its course and ``user_id``'s course role, read
        together (one query: this runs on every room-scoped request); None if the room is gone."""
        ...

    async def in_course(self, course_id: str) -> list[Room]:
        """The rooms of a course, oldest first."""
        ...

    async def update(
        self, room_id: str, settings: RoomSettings, event: RoomChangedV1 | None = None
    ) -> Room | None:
        """Replace the room's settings (queueing ``event`` with them); None if it is gone."""
        ...

    async def delete(self, room_id: str, event: RoomChangedV1 | None = None) -> bool:
        """Delete the room and its assignments (queueing ``event`` only if it existed)."""
        ...

    async def assign(self, room_id: str, user_id: str, event: MembershipChangedV1) -> bool:
        """Assign a user (False if already assigned: nothing is written)."""
        ...

    async def unassign(self, room_id: str, user_id: str, event: MembershipChangedV1) -> bool:
        """Remove an assignment (False if there was none: nothing is written)."""
        ...
