"""Room-scoped trigger routes (dry runs): forwarded only to readers of the room, with their role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI, Request

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.domain import User
from coagent_gateway.policy import Action
from coagent_gateway.routing.endpoints import owned_routes_router
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, verify_identity
from coagent_kit.errors import NotFound
from coagent_kit.settings import ServiceSettings

from ..conftest import SECRET, AuthKit


class TriggerSettings(ServiceSettings):
    service_name = "trigger"


@dataclass
class Course:
    owner_id: str | None


@dataclass
class Access:
    role: str | None
    course: Course


def trigger_stub(calls: list[str]) -> FastAPI:
    app = build_app(TriggerSettings(env="test"), title="trigger")

    @app.post("/{path:path}")
    async def record(path: str, request: Request) -> dict[str, object]:
        identity = verify_identity(SECRET, request.headers[HEADER], "trigger")
        calls.append("/" + path)
        return {
            "path": "/" + path,
            "role": identity.resource_role,
            "query": str(request.query_params),
        }

    return app


@pytest.fixture
def members() -> dict[str, str]:
    return {}


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
async def client(
    auth_app: FastAPI, members: dict[str, str], calls: list[str]
) -> AsyncIterator[httpx.AsyncClient]:
    async def room_access(user: User, room_id: str, action: Action) -> Access:
        assert action is Action.ROOM_READ  # a dry run only needs to read the room
        if room_id != "r1" or user.id not in members:
            raise NotFound("Room not found", code="room_not_found")
        return Access(members[user.id], Course(owner_id=None))

    urls = {name: f"http://{name}" for name in GatewaySettings().service_urls()}
    services = ServiceClient(urls, SECRET, transport=httpx.ASGITransport(app=trigger_stub(calls)))
    auth_app.state.services = services
    auth_app.state.room_access = room_access
    auth_app.include_router(owned_routes_router())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=auth_app), base_url="http://gw"
    ) as c:
        yield c
    await services.aclose()


async def _login(client: httpx.AsyncClient, auth: AuthKit) -> User:
    user = auth.add_user()
    await client.post(
        "/api/v1/login/access-token",
        files={"username": (None, "ada"), "password": (None, "correct-horse")},
    )
    return user


async def test_a_room_reader_reaches_the_dry_run_with_their_role(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str], calls: list[str]
) -> None:
    user = await _login(client, auth)
    members[user.id] = "student"

    response = await client.post("/api/v1/rooms/r1/triggers/t1/dry-run?limit=20")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "path": "/api/v1/rooms/r1/triggers/t1/dry-run",
        "role": "student",
        "query": "limit=20",
    }


async def test_strangers_and_anonymous_callers_never_reach_it(
    client: httpx.AsyncClient, auth: AuthKit, calls: list[str]
) -> None:
    anonymous = await client.post("/api/v1/rooms/r1/triggers/t1/dry-run")
    await _login(client, auth)
    stranger = await client.post("/api/v1/rooms/r1/triggers/t1/dry-run")

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert (stranger.status_code, stranger.json()["code"]) == (404, "room_not_found")
    assert calls == []
