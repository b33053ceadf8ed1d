"""The internal HTTP API over the memory-backed service, through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from coagent_chat.adapters.memory import MemoryStore
from coagent_chat.settings import ChatSettings
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity


@pytest.fixture
async def client(memory_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://chat") as http:
        yield http


@pytest.fixture
def auth(settings: ChatSettings) -> dict[str, str]:
    identity = InternalIdentity(user_id="u1", platform_role="student", resource_role="member")
    secret = settings.internal_token_secret.get_secret_value()
    return {HEADER: sign_identity(secret, identity, audience="chat")}


async def test_posting_returns_201_with_the_seq(
    client: httpx.AsyncClient, auth: dict[str, str], store: MemoryStore
) -> None:
    first = await client.post(
        "/internal/rooms/r1/messages", json={"content": "hello", "sender_name": "Ada"}, headers=auth
    )
    second = await client.post(
        "/internal/rooms/r1/messages", json={"content": "again"}, headers=auth
    )

    assert first.status_code == 201
    body = first.json()
    assert body["seq"] == 1
    assert body["room_id"] == "r1"
    assert body["content"] == "hello"
    assert body["sender_kind"] == "human"
    assert body["sender_id"] == "u1"  # from the identity token, not the body
    assert body["sender_name"] == "Ada"
    assert second.status_code == 201
    assert second.json()["seq"] == 2
    assert [type(e).__name__ for e in store.published] == [
        "MessagePostedV1",
        "RoomActivityRecordedV1",
    ] * 2


async def test_no_identity_token_is_401(client: httpx.AsyncClient, store: MemoryStore) -> None:
    response = await client.post("/internal/rooms/r1/messages", json={"content": "hello"})

    assert response.status_code == 401
    assert response.json()["code"] == "identity_missing"
    assert store.messages == {}


async def test_a_token_for_another_service_is_401(
    client: httpx.AsyncClient, settings: ChatSettings
) -> None:
    identity = InternalIdentity(user_id="u1", platform_role="student")
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(secret, identity, audience="trigger")

    response = await client.get("/internal/rooms/r1/messages", headers={HEADER: token})

    assert response.status_code == 401
    assert response.json()["code"] == "identity_invalid"


async def test_empty_content_is_a_422_validation_error(
    client: httpx.AsyncClient, auth: dict[str, str], store: MemoryStore
) -> None:
    response = await client.post("/internal/rooms/r1/messages", json={"content": ""}, headers=auth)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert store.messages == {}


async def test_whitespace_content_is_a_422_invalid_message(
    client: httpx.AsyncClient, auth: dict[str, str], store: MemoryStore
) -> None:
    response = await client.post(
        "/internal/rooms/r1/messages", json={"content": "   "}, headers=auth
    )

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_message"
    assert store.messages == {}


async def test_history_after_since(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for i in range(1, 5):
        await client.post("/internal/rooms/r1/messages", json={"content": f"m{i}"}, headers=auth)

    response = await client.get("/internal/rooms/r1/messages?since=2", headers=auth)

    assert response.status_code == 200
    assert [(m["seq"], m["content"]) for m in response.json()] == [(3, "m3"), (4, "m4")]
    everything = await client.get("/internal/rooms/r1/messages", headers=auth)
    assert [m["seq"] for m in everything.json()] == [1, 2, 3, 4]
    limited = await client.get("/internal/rooms/r1/messages?since=0&limit=1", headers=auth)
    assert [m["seq"] for m in limited.json()] == [1]


@pytest.mark.parametrize("query", ["since=-1", "limit=0", "limit=1001"])
async def test_out_of_range_paging_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], query: str
) -> None:
    response = await client.get(f"/internal/rooms/r1/messages?{query}", headers=auth)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
