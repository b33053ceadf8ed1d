"""What the chat routes need from the rest of the gateway."""

from __future__ import annotations

from typing import Protocol

from coagent_gateway.domain import User
from coagent_gateway.policy import Action


class RoomGuard(Protocol):
    """Authorises room-scoped actions against course membership."""

    async def authorize(self, user: User, room_id: str, action: Action) -> str | None:
        """The role to forward (``"owner"`` for the course owner, else the course role).

        Raises 404/403 when refused.
        """
        ...
