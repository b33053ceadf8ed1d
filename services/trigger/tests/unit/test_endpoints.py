"""The internal HTTP API over the memory-backed service, through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from coagent_contracts.chat import MessagePostedV1
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_trigger.service import TriggerService
from coagent_trigger.settings import TriggerSettings

Posted = Callable[..., MessagePostedV1]


@pytest.fixture
async def client(memory_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://trigger") as http:
        yield http


@pytest.fixture
def auth(settings: TriggerSettings) -> dict[str, str]:
    identity = InternalIdentity(user_id="u1", platform_role="student", resource_role="member")
    secret = settings.internal_token_secret.get_secret_value()
    return {HEADER: sign_identity(secret, identity, audience="trigger")}


async def test_room_activity_is_readable(
    client: httpx.AsyncClient, auth: dict[str, str], service: TriggerService, posted: Posted
) -> None:
    await service.record_message(posted(1, "human"))
    await service.record_message(posted(2, "agent"))

    response = await client.get("/internal/rooms/r1/activity", headers=auth)

    assert response.status_code == 200
    assert response.json() == {
        "room_id": "r1",
        "last_message_at": posted(2).data.created_at.isoformat().replace("+00:00", "Z"),
        "last_human_message_at": posted(1).data.created_at.isoformat().replace("+00:00", "Z"),
        "message_count": 2,
        "last_seq": 2,
    }


async def test_unknown_room_is_a_typed_404(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.get("/internal/rooms/nowhere/activity", headers=auth)
    assert response.status_code == 404
    assert response.json()["code"] == "room_activity_not_found"


async def test_no_identity_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/rooms/r1/activity")
    assert response.status_code == 401
    assert response.json()["code"] == "identity_missing"


async def test_a_token_for_another_service_is_401(
    client: httpx.AsyncClient, settings: TriggerSettings
) -> None:
    identity = InternalIdentity(user_id="u1", platform_role="student")
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(secret, identity, audience="chat")
    response = await client.get("/internal/rooms/r1/activity", headers={HEADER: token})
    assert response.status_code == 401
    assert response.json()["code"] == "identity_invalid"
