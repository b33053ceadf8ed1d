"""Chat through the gateway: authorise against membership, then ask the chat service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from coagent_gateway.adapters.services_http import ServiceClient, path_segment
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


@dataclass(frozen=True)
class NewPost:
    """A message a person posts, with what makes a retry safe (``client_msg_id``)."""

    content: str
    client_msg_id: str | None = None
    thread_id: str | None = None
    mentions: list[str] = field(default_factory=list)
    #: The ``Idempotency-Key`` header, passed on as given (chat reconciles it with the body).
    idempotency_key: str | None = None


class ChatGateway:
    """Room history and posting, on behalf of an authenticated user."""

    def __init__(self, services: ServiceClient, rooms: RoomGuard) -> None:
        self._services = services
        self._rooms = rooms

    async def authorize(self, user: User, room_id: str, action: Action) -> InternalIdentity:
        """The identity to forward with, once ``action`` on the room is allowed.

        Its ``resource_role`` is ``"owner"`` for the course owner (see :class:`RoomGuard`).
        """
        role = await self._rooms.authorize(user, room_id, action)
        return InternalIdentity(
            user_id=user.id, platform_role=user.platform_role.value, resource_role=role
        )

    async def history(
        self,
        identity: InternalIdentity,
        room_id: str,
        since: int | None,
        limit: int,
        before: int | None = None,
    ) -> list[dict[str, Any]]:
        """Messages as client frames, oldest first.

        ``since`` (after) and ``before`` are exclusive ``seq`` bounds; with neither, the latest
        ``limit`` messages.
        """
        if (since is not None and since >= MAX_SEQ) or (before is not None and before <= 1):
            # Nothing lies beyond the largest sequence or before the first one (and the chat
            # service's BIGINT column cannot take larger numbers).
            return []
        params: dict[str, int] = {"limit": limit}
        if since is not None:
            params["after"] = since
        if before is not None:
            params["before"] = min(before, MAX_SEQ)
        response = await self._services.request(
            CHAT, "GET", _messages(room_id), identity, params=params
        )
        raise_for(response)
        return [from_chat_record(r) for r in response.json()]

    async def post(
        self,
        identity: InternalIdentity,
        user: User,
        room_id: str,
        content: str,
        client_msg_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a message from ``user``; the chat service announces it to every socket."""
        frame, _ = await self.post_message(
            identity, user, room_id, NewPost(content, client_msg_id=client_msg_id)
        )
        return frame

    async def post_message(
        self, identity: InternalIdentity, user: User, room_id: str, post: NewPost
    ) -> tuple[dict[str, Any], bool]:
        """Store a message; (its frame, True if new — False for a retried duplicate)."""
        body: dict[str, Any] = {"content": post.content, "sender_name": display_name(user)}
        if post.client_msg_id is not None:
            body["client_msg_id"] = post.client_msg_id
        if post.thread_id is not None:
            body["thread_id"] = post.thread_id
        if post.mentions:
            body["mentions"] = post.mentions
        headers = {"Idempotency-Key": post.idempotency_key} if post.idempotency_key else None
        response = await self._services.request(
            CHAT, "POST", _messages(room_id), identity, json=body, headers=headers
        )
        raise_for(response)
        return from_chat_record(response.json()), response.status_code == 201

    async def delete_message(
        self, identity: InternalIdentity, room_id: str, message_id: str
    ) -> None:
        """Forget one message; chat decides whether the caller may (its sender or staff)."""
        response = await self._services.request(
            CHAT, "DELETE", f"{_messages(room_id)}/{path_segment(message_id)}", identity
        )
        raise_for(response)

    async def retention(
        self, identity: InternalIdentity, room_id: str, rule: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The room's retention rule; replaced first when ``rule`` is given."""
        path = f"/internal/rooms/{path_segment(room_id)}/retention"
        if rule is None:
            response = await self._services.request(CHAT, "GET", path, identity)
        else:
            response = await self._services.request(CHAT, "PUT", path, identity, json=rule)
        raise_for(response)
        answer: dict[str, Any] = response.json()
        return answer


def _messages(room_id: str) -> str:
    return f"/internal/rooms/{path_segment(room_id)}/messages"


def raise_for(response: httpx.Response) -> None:
    """Pass the service's own error through (same body shape everywhere)."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail", "The chat service refused the request")
    if response.status_code == 422 and isinstance(detail, list):
        # Our own checks should have caught it: report it as a bad request, not as ours.
        detail = "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    raise ServiceError(
        str(detail) or "The chat service refused the request",
        code=str(body.get("code", "chat_error")),
        status=response.status_code,
    )
