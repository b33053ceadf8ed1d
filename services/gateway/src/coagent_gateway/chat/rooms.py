"""The chat routes' :class:`~coagent_gateway.chat.ports.RoomGuard`, backed by the rooms feature."""

from __future__ import annotations

from coagent_gateway.domain import User
from coagent_gateway.policy import Action
from coagent_gateway.rooms.service import RoomService


class MembershipRoomGuard:
    """Rooms are open to their course's members (see :meth:`RoomService.room_access`)."""

    def __init__(self, rooms: RoomService) -> None:
        self._rooms = rooms

    async def authorize(self, user: User, room_id: str, action: Action) -> str | None:
        access = await self._rooms.room_access(user, room_id, action)
        return access.forwarded_role(user.id)
