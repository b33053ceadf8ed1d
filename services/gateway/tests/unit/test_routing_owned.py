"""Routes owned by other services: authenticated (F2), room-scoped by membership, forwarded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

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
from coagent_kit.errors import Forbidden, NotFound
from coagent_kit.settings import ServiceSettings

from ..conftest import SECRET, AuthKit


class EchoSettings(ServiceSettings):
    service_name = "echo"


def echo_service() -> FastAPI:
    """Answers every path with what it received, checking the identity for its own audience."""
    app = build_app(EchoSettings(env="test"), title="echo")

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def echo(path: str, request: Request) -> dict[str, object]:
        audience = request.url.hostname or ""
        identity = verify_identity(SECRET, request.headers[HEADER], audience)
        return {
            "service": audience,
            "path": "/" + path,
            "method": request.method,
            "user": identity.user_id,
            "role": identity.resource_role,
        }

    return app


@dataclass
class Access:
    role: str | None


@pytest.fixture
def members() -> dict[str, str]:
    """Course role by user id for room r1."""
    return {}


@pytest.fixture
async def client(auth_app: FastAPI, members: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async def room_access(user: User, room_id: str, action: Action) -> Access:
        if room_id != "r1":
            raise NotFound("Room not found", code="room_not_found")
        role = members.get(user.id)
        if role is None:
            raise NotFound("Room not found", code="room_not_found")
        if role == "student" and action not in (Action.ROOM_READ, Action.ROOM_CHAT):
            raise Forbidden("Not allowed", code="forbidden")
        return Access(role)

    urls = {name: f"http://{name}" for name in GatewaySettings().service_urls()}
    services = ServiceClient(urls, SECRET, transport=httpx.ASGITransport(app=echo_service()))
    auth_app.state.services = services
    auth_app.state.room_access = room_access
    auth_app.include_router(owned_routes_router())
    transport = httpx.ASGITransport(app=auth_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        yield c
    await services.aclose()


async def _login_as(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str], role: str | None
) -> User:
    user = auth.add_user()
    if role is not None:
        members[user.id] = role
    await client.post(
        "/api/v1/login/access-token",
        files={"username": (None, "ada"), "password": (None, "correct-horse")},
    )
    return user


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/workflows"),
        ("POST", "/api/v1/workflows/w1/execute"),
        ("GET", "/api/v1/workflows/w1/runs"),
        ("GET", "/api/v1/triggers"),
        ("DELETE", "/api/v1/triggers/t1"),
        ("GET", "/api/v1/graph/r1"),
        ("POST", "/api/v1/workspaces/r1/artifacts"),
    ],
)
async def test_anonymous_calls_never_reach_a_service(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_workflow_routes_are_forwarded_with_the_callers_identity(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str]
) -> None:
    user = await _login_as(client, auth, members, None)
    body = (await client.post("/api/v1/workflows/w1/execute", json={})).json()
    assert body == {
        "service": "workflow-engine",
        "path": "/api/v1/workflows/w1/execute",
        "method": "POST",
        "user": user.id,
        "role": None,
    }


async def test_room_routes_need_membership_and_carry_the_role(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str]
) -> None:
    await _login_as(client, auth, members, "student")
    artifacts = await client.post("/api/v1/workspaces/r1/artifacts", json={"type": "task"})
    assert artifacts.json()["service"] == "chat"
    assert artifacts.json()["role"] == "student"
    hidden = await client.get("/api/v1/workspaces/r9/artifacts")
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "room_not_found"
    manage = await client.put("/api/v1/rooms/r1/workflow", json={})
    assert manage.status_code == 403


async def test_graph_reads_go_to_query_and_builds_to_ingest(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str]
) -> None:
    await _login_as(client, auth, members, "student")
    assert (await client.get("/api/v1/graph/r1/status")).json()["service"] == "graphrag-query"
    assert (await client.post("/api/v1/graph/r1/build")).json()["service"] == "graphrag-ingest"


async def test_ids_with_any_characters_are_forwarded_exactly(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str]
) -> None:
    await _login_as(client, auth, members, None)
    weird = "w\u00de \x04;%2F\U0001f9a6"
    response = await client.delete(f"/api/v1/agents/{quote(weird, safe='')}")
    assert response.status_code == 200
    assert response.json()["path"] == f"/api/v1/agents/{weird}"
