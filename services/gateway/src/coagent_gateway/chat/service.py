"""Chat through the gateway: authorise against membership, then ask the chat service."""

from __future__ import annotations

from typing import Any

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.chat.frames import from_chat_record
from coagent_gateway.chat.ports import RoomGuard
from coagent_gateway.domain import User
from coagent_gateway.policy import Action
from coagent_kit.auth import InternalIdentity
from coagent_kit.errors import ServiceError

CHAT = "chat"
#: Room sequences are PostgreSQL ``BIGINT``s: no message can come after this one.
MAX_SEQ = 2**63 - 1


def display_name(user: User) -> str:
    """How a person appears in a room."""
    return user.full_name or user.username or user.email


class ChatGateway:
    """Room history and posting, on behalf of an authenticated user."""

    def __init__(self, services: ServiceClient, rooms: RoomGuard) -> None:
        self._services = services
        self._rooms = rooms

    async def authorize(self, user: User, room_id: str, action: Action) -> InternalIdentity:
        """The identity to forward with, once ``action`` on the room is allowed."""
        role = await self._rooms.authorize(user, room_id, action)
        return InternalIdentity(
            user_id=user.id, platform_role=user.platform_role.value, resource_role=role
        )

    async def history(
        self, identity: InternalIdentity, room_id: str, since: int, limit: int
    ) -> list[dict[str, Any]]:
        """Messages after ``since`` as client frames, oldest first."""
        if since >= MAX_SEQ:
            # Nothing lies beyond the largest sequence (and the chat service cannot take it).
            return []
        response = await self._services.request(
            CHAT,
            "GET",
            f"/internal/rooms/{room_id}/messages",
            identity,
            params={"since": since, "limit": limit},
        )
        _raise_for(response.status_code, response)
        return [from_chat_record(r) for r in response.json()]

    async def post(
        self, identity: InternalIdentity, user: User, room_id: str, content: str
    ) -> dict[str, Any]:
        """Store a message from ``user``; the chat service announces it to every socket."""
        response = await self._services.request(
            CHAT,
            "POST",
            f"/internal/rooms/{room_id}/messages",
            identity,
            json={"content": content, "sender_name": display_name(user)},
        )
        _raise_for(response.status_code, response)
        return from_chat_record(response.json())


def _raise_for(status: int, response: Any) -> None:
    """Pass the service's own error through (same body shape everywhere)."""
    if status < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    raise ServiceError(
        str(body.get("detail", "The chat service refused the request")),
        code=str(body.get("code", "chat_error")),
        status=status,
    )
