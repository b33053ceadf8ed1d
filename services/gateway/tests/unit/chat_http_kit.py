"""A fake chat service and room guard for the gateway's chat HTTP route tests.

The fake records what it was sent (with the verified identity), so a test can tell what the
gateway forwarded — and what it refused before forwarding anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from coagent_gateway.domain import User
from coagent_gateway.policy import Action
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, verify_identity
from coagent_kit.errors import Forbidden, NotFound
from coagent_kit.settings import ServiceSettings

from ..conftest import SECRET, AuthKit

NOW = "2026-11-24T12:00:00Z"


class FakeChatSettings(ServiceSettings):
    service_name = "chat"


@dataclass
class FakeChat:
    """What the fake chat service stored and was asked."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    retention: dict[str, Any] = field(
        default_factory=lambda: {"max_age_days": None, "max_messages": None}
    )

    def record(self, request: Request, **extra: Any) -> dict[str, Any]:
        identity = verify_identity(SECRET, request.headers[HEADER], "chat")
        call = {
            "method": request.method,
            "path": request.scope["path"],  # decoded, as the route sees it
            "params": dict(request.query_params),
            "user": identity.user_id,
            "role": identity.resource_role,
            **extra,
        }
        self.calls.append(call)
        return call

    def add(self, **fields: Any) -> dict[str, Any]:
        seq = len(self.messages) + 1
        message = {
            "id": f"m{seq}",
            "room_id": "r1",
            "seq": seq,
            "sender_kind": "human",
            "sender_id": None,
            "sender_name": None,
            "agent_id": None,
            "agent_type": None,
            "run_id": None,
            "offline": False,
            "stream_id": None,
            "client_msg_id": None,
            "thread_id": None,
            "mentions": [],
            "content": f"message {seq}",
            "created_at": NOW,
            **fields,
        }
        self.messages.append(message)
        return message

    def app(self) -> FastAPI:
        app = build_app(FakeChatSettings(env="test"), title="fake chat")

        @app.get("/internal/rooms/{room_id}/messages")
        async def history(room_id: str, request: Request) -> list[dict[str, Any]]:
            self.record(request)
            return self.messages

        @app.post("/internal/rooms/{room_id}/messages")
        async def post(room_id: str, request: Request) -> JSONResponse:
            body = await request.json()
            call = self.record(request, body=body, key=request.headers.get("idempotency-key"))
            key = call["key"] or body.get("client_msg_id")
            if key and (room_id, call["user"], key) in self.keys:
                return JSONResponse(self.keys[(room_id, call["user"], key)], status_code=200)
            message = self.add(
                sender_id=call["user"],
                sender_name=body["sender_name"],
                content=body["content"],
                client_msg_id=key,
            )
            if key:
                self.keys[(room_id, call["user"], key)] = message
            return JSONResponse(message, status_code=201)

        @app.delete("/internal/rooms/{room_id}/messages/{message_id}")
        async def forget(room_id: str, message_id: str, request: Request) -> Response:
            call = self.record(request)
            found = [m for m in self.messages if m["id"] == message_id]
            if not found:
                body = {"detail": "Message not found", "code": "message_not_found"}
                return JSONResponse(body, status_code=404)
            if found[0]["sender_id"] != call["user"] and call["role"] not in ("owner", "ta"):
                return JSONResponse({"detail": "No", "code": "forbidden"}, status_code=403)
            self.messages.remove(found[0])
            return Response(status_code=204)

        @app.api_route("/internal/rooms/{room_id}/retention", methods=["GET", "PUT"])
        async def retention(room_id: str, request: Request) -> dict[str, Any]:
            body = await request.json() if request.method == "PUT" else None
            self.record(request, body=body)
            if body is not None:
                self.retention = body
            return {
                "room_id": room_id,
                **self.retention,
                "effective_max_age_days": self.retention["max_age_days"] or 365,
                "effective_max_messages": self.retention["max_messages"],
            }

        return app


class Rooms:
    """Room r1: students read and chat, the TA may also update; everyone else is kept out."""

    def __init__(self) -> None:
        self.roles: dict[str, str] = {}

    async def authorize(self, user: User, room_id: str, action: Action) -> str | None:
        role = self.roles.get(user.id)
        if room_id != "r1" or role is None:
            raise NotFound("Room not found", code="room_not_found")
        if role == "student" and action not in (Action.ROOM_READ, Action.ROOM_CHAT):
            raise Forbidden("Not allowed", code="forbidden")
        return role


async def login_member(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, role: str | None, name: str = "ada"
) -> User:
    user = auth.add_user(name)
    if role is not None:
        rooms.roles[user.id] = role
    await client.post(
        "/api/v1/login/access-token",
        files={"username": (None, name), "password": (None, "correct-horse")},
    )
    return user
