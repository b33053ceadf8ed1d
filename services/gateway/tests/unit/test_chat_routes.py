"""Chat history through the gateway: membership first, then the chat service (run in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from coagent_chat.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_chat.endpoints import router as chat_router
from coagent_chat.service import ChatService
from coagent_chat.settings import ChatSettings
from coagent_gateway.adapters.services_http import ServiceClient, ServiceUnavailable
from coagent_gateway.chat.endpoints import router as gateway_chat_router
from coagent_gateway.chat.service import ChatGateway
from coagent_gateway.domain import User
from coagent_gateway.policy import Action
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app
from coagent_kit.errors import Forbidden, NotFound

from ..conftest import SECRET, AuthKit


class Rooms:
    """Room r1 admits course members only; r-missing does not exist."""

    def __init__(self) -> None:
        self.members: set[str] = set()

    async def authorize(self, user: User, room_id: str, action: Action) -> str | None:
        if room_id != "r1":
            raise NotFound("Room not found", code="room_not_found")
        if user.id not in self.members:
            raise Forbidden("Not a member of this room's course", code="forbidden")
        return "student"


@pytest.fixture
def rooms() -> Rooms:
    return Rooms()


@pytest.fixture
def chat_store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def gateway(rooms: Rooms, chat_store: MemoryStore) -> AsyncIterator[ChatGateway]:
    """The gateway's chat feature talking to a real chat app over an in-process transport."""
    chat_app = build_app(
        ChatSettings(env="test", internal_token_secret=SecretStr(SECRET)), title="chat"
    )
    chat_app.state.chat = ChatService(lambda: MemoryUnitOfWork(chat_store))
    chat_app.include_router(chat_router)
    services = ServiceClient(
        GatewaySettings().service_urls(), SECRET, transport=httpx.ASGITransport(app=chat_app)
    )
    yield ChatGateway(services, rooms)
    await services.aclose()


@pytest.fixture
async def client(auth_app: FastAPI, gateway: ChatGateway) -> AsyncIterator[httpx.AsyncClient]:
    auth_app.state.chat = gateway
    auth_app.include_router(gateway_chat_router)
    transport = httpx.ASGITransport(app=auth_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
        yield c


async def _login(client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms) -> User:
    user = auth.add_user()
    rooms.members.add(user.id)
    await client.post(
        "/api/v1/login/access-token",
        files={"username": (None, "ada"), "password": (None, "correct-horse")},
    )
    return user


async def test_members_read_history_in_the_client_shape(
    client: httpx.AsyncClient, gateway: ChatGateway, auth: AuthKit, rooms: Rooms
) -> None:
    user = await _login(client, auth, rooms)
    identity = await gateway.authorize(user, "r1", Action.ROOM_CHAT)
    await gateway.post(identity, user, "r1", "hello")
    await gateway.post(identity, user, "r1", "again")

    history = (await client.get("/api/v1/chat/messages/r1")).json()
    assert [m["content"] for m in history] == ["hello", "again"]
    first = history[0]
    assert first["sender"] == "Ada"
    assert first["sender_id"] == user.id
    assert first["agent_type"] is None
    assert first["seq"] == 1
    assert first["metadata"] == {
        "is_ai": False,
        "sender_id": user.id,
        "agent_id": None,
        "agent_type": None,
        "run_id": None,
        "offline": False,
        "stream_id": None,
        "client_msg_id": None,
    }
    after = (await client.get("/api/v1/chat/messages/r1", params={"since": 1})).json()
    assert [m["seq"] for m in after] == [2]


async def test_non_members_and_unknown_rooms_are_refused(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms
) -> None:
    user = await _login(client, auth, rooms)
    rooms.members.discard(user.id)
    forbidden = await client.get("/api/v1/chat/messages/r1")
    assert forbidden.status_code == 403
    missing = await client.get("/api/v1/chat/messages/r-missing")
    assert missing.json()["code"] == "room_not_found"


async def test_anonymous_callers_get_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/chat/messages/r1")
    assert response.status_code == 401


async def test_a_down_chat_service_is_a_clear_503(auth: AuthKit, rooms: Rooms) -> None:
    services = ServiceClient({"chat": "http://127.0.0.1:9"}, SECRET)
    gateway = ChatGateway(services, rooms)
    user = auth.add_user()
    rooms.members.add(user.id)
    identity = await gateway.authorize(user, "r1", Action.ROOM_READ)
    with pytest.raises(ServiceUnavailable) as refused:
        await gateway.history(identity, "r1", 0, 10)
    assert refused.value.status == 503
    assert refused.value.code == "service_unavailable"
    await services.aclose()
