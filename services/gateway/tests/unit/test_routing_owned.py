"""Routes owned by other services: authenticated (F2), room-scoped by membership, forwarded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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


#: Artifact id → room id, as the fake chat service knows them.
ARTIFACTS = {"a1": "r1", "a-hidden": "r2"}


def echo_service(calls: list[str]) -> FastAPI:
    """Answers every path with what it received, checking the identity for its own audience.

    Also plays chat's artifact → room lookup, and records every other call it gets in ``calls``.
    """
    app = build_app(EchoSettings(env="test"), title="echo")

    @app.get("/internal/artifacts/{artifact_id}/room")
    async def room_of(artifact_id: str, request: Request) -> JSONResponse:
        verify_identity(SECRET, request.headers[HEADER], "chat")
        if artifact_id not in ARTIFACTS:
            detail = {"detail": "Artifact not found", "code": "artifact_not_found"}
            return JSONResponse(detail, status_code=404)
        return JSONResponse({"room_id": ARTIFACTS[artifact_id]})

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(path: str, request: Request) -> dict[str, object]:
        audience = request.url.hostname or ""
        identity = verify_identity(SECRET, request.headers[HEADER], audience)
        calls.append(f"{request.method} /{path}")
        return {
            "service": audience,
            "path": "/" + path,
            "method": request.method,
            "query": str(request.query_params),
            "user": identity.user_id,
            "role": identity.resource_role,
        }

    return app


@dataclass
class Course:
    owner_id: str | None


@dataclass
class Access:
    role: str | None
    course: Course


@pytest.fixture
def members() -> dict[str, str]:
    """Course role by user id for room r1."""
    return {}


@pytest.fixture
def course() -> Course:
    """The course of room r1 (no owner until a test sets one)."""
    return Course(owner_id=None)


@pytest.fixture
def calls() -> list[str]:
    """Requests that reached a service (other than artifact lookups)."""
    return []


@pytest.fixture
async def client(
    auth_app: FastAPI, members: dict[str, str], course: Course, calls: list[str]
) -> AsyncIterator[httpx.AsyncClient]:
    async def room_access(user: User, room_id: str, action: Action) -> Access:
        """Room r1 of ``course``: its owner may do anything, students read and chat."""
        if room_id != "r1":
            raise NotFound("Room not found", code="room_not_found")
        role = members.get(user.id)
        if role is None and course.owner_id != user.id:
            raise NotFound("Room not found", code="room_not_found")
        staff = course.owner_id == user.id or role in ("teacher", "ta")
        if not staff and action not in (Action.ROOM_READ, Action.ROOM_CHAT):
            raise Forbidden("Not allowed", code="forbidden")
        return Access(role, course)

    urls = {name: f"http://{name}" for name in GatewaySettings().service_urls()}
    transport = httpx.ASGITransport(app=echo_service(calls))
    services = ServiceClient(urls, SECRET, transport=transport)
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
        "query": "",
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


async def test_graph_routes_and_builds_go_to_query_and_ingest_jobs_to_ingest(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str]
) -> None:
    await _login_as(client, auth, members, "student")
    assert (await client.get("/api/v1/graph/r1/status")).json()["service"] == "graphrag-query"
    assert (await client.post("/api/v1/graph/r1/build")).json()["service"] == "graphrag-query"
    jobs = await client.get("/api/v1/graph/r1/ingest-jobs")
    assert jobs.json()["service"] == "graphrag-ingest"


async def test_ids_with_any_characters_are_forwarded_exactly(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str]
) -> None:
    await _login_as(client, auth, members, None)
    weird = "w\u00de \x04;%2F\U0001f9a6"
    response = await client.delete(f"/api/v1/agents/{quote(weird, safe='')}")
    assert response.status_code == 200
    assert response.json()["path"] == f"/api/v1/agents/{weird}"


async def test_the_course_owner_is_forwarded_as_owner(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str], course: Course
) -> None:
    owner = await _login_as(client, auth, members, "teacher")
    course.owner_id = owner.id
    room_scoped = await client.get("/api/v1/workspaces/r1/artifacts")
    assert room_scoped.json()["role"] == "owner"
    by_id = await client.get("/api/v1/workspaces/artifacts/a1")
    assert by_id.json()["role"] == "owner"


async def test_an_owner_who_is_not_enrolled_is_still_owner(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str], course: Course
) -> None:
    owner = await _login_as(client, auth, members, None)
    course.owner_id = owner.id
    response = await client.post("/api/v1/workspaces/r1/artifacts", json={"type": "task"})
    assert response.json()["role"] == "owner"


async def test_artifact_ids_are_routed_through_their_room(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str]
) -> None:
    user = await _login_as(client, auth, members, "student")
    read = await client.get("/api/v1/workspaces/artifacts/a1")
    assert read.json() == {
        "service": "chat",
        "path": "/api/v1/workspaces/artifacts/a1",
        "method": "GET",
        "query": "",
        "user": user.id,
        "role": "student",
    }
    merged = await client.put("/api/v1/workspaces/artifacts/a1", json={"content": {"x": 1}})
    assert merged.json()["method"] == "PUT"
    versions = await client.get("/api/v1/workspaces/artifacts/a1/versions")
    assert versions.json()["path"] == "/api/v1/workspaces/artifacts/a1/versions"
    restore = await client.post("/api/v1/workspaces/artifacts/a1/versions/2/restore")
    assert restore.json()["path"] == "/api/v1/workspaces/artifacts/a1/versions/2/restore"
    soft = await client.delete("/api/v1/workspaces/artifacts/a1?hard_delete=false")
    assert soft.json()["query"] == "hard_delete=false"


@pytest.mark.parametrize("flag", ["true", "1", "yes", "TRUE", "on"])
async def test_a_student_cannot_hard_delete(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str], calls: list[str], flag: str
) -> None:
    await _login_as(client, auth, members, "student")
    refused = await client.delete(f"/api/v1/workspaces/artifacts/a1?hard_delete={flag}")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert calls == []  # refused before anything was forwarded


async def test_a_repeated_hard_delete_flag_cannot_sneak_past(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str], calls: list[str]
) -> None:
    await _login_as(client, auth, members, "student")
    sneaky = "/api/v1/workspaces/artifacts/a1?hard_delete=true&hard_delete=false"
    assert (await client.delete(sneaky)).status_code == 403
    assert calls == []


async def test_staff_may_hard_delete(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str]
) -> None:
    await _login_as(client, auth, members, "ta")
    response = await client.delete("/api/v1/workspaces/artifacts/a1?hard_delete=true")
    assert response.status_code == 200
    assert response.json()["role"] == "ta"


async def test_artifacts_of_hidden_rooms_and_unknown_ids_are_not_found(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str], calls: list[str]
) -> None:
    await _login_as(client, auth, members, None)  # enrolled nowhere
    for path in ("/api/v1/workspaces/artifacts/a1", "/api/v1/workspaces/artifacts/a-hidden"):
        hidden = await client.get(path)
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "artifact_not_found"
    missing = await client.put("/api/v1/workspaces/artifacts/nope/versions", json={})
    assert missing.status_code == 404
    assert missing.json()["code"] == "artifact_not_found"
    assert calls == []


async def test_artifact_routes_need_a_session(client: httpx.AsyncClient, calls: list[str]) -> None:
    response = await client.get("/api/v1/workspaces/artifacts/a1")
    assert response.status_code == 401
    assert calls == []


async def test_an_artifact_called_artifacts_is_not_taken_for_a_room(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str], calls: list[str]
) -> None:
    """``/workspaces/artifacts/artifacts`` also fits ``/workspaces/{room_id}/artifacts``."""
    await _login_as(client, auth, members, "student")
    ARTIFACTS["artifacts"] = "r1"
    try:
        response = await client.get("/api/v1/workspaces/artifacts/artifacts")
    finally:
        del ARTIFACTS["artifacts"]
    assert response.status_code == 200
    assert response.json()["path"] == "/api/v1/workspaces/artifacts/artifacts"
    assert calls == ["GET /api/v1/workspaces/artifacts/artifacts"]


async def test_room_artifact_reads_need_read_and_writes_chat(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str]
) -> None:
    await _login_as(client, auth, members, "student")
    assert (await client.get("/api/v1/workspaces/r1/artifacts")).status_code == 200
    assert (await client.post("/api/v1/workspaces/r1/artifacts", json={})).status_code == 200
    assert (await client.get("/api/v1/workspaces/r2/artifacts")).status_code == 404


def test_artifact_routes_are_documented_under_their_tag(auth_app: FastAPI) -> None:
    auth_app.include_router(owned_routes_router())
    paths = auth_app.openapi()["paths"]
    item = paths["/api/v1/workspaces/artifacts/{artifact_id}"]
    assert set(item) == {"get", "put", "patch", "delete"}
    assert item["delete"]["tags"] == ["artifacts"]
    assert any(p["name"] == "hard_delete" for p in item["delete"]["parameters"])
    assert "post" in paths["/api/v1/workspaces/artifacts/{artifact_id}/{rest}"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/workspaces/artifacts/a1/" + "%2E%2E/" * 5 + "internal/rooms/r2/retention",
        "/api/v1/workspaces/artifacts/a1/versions/%2E",
        "/api/v1/workflows/%2E%2E/%2E%2E/%2E%2E/internal/x",
        "/api/v1/graph/r1/%2E%2E/%2E%2E/r2",
    ],
)
async def test_dot_segments_are_never_forwarded(
    client: httpx.AsyncClient, auth: AuthKit, members: dict[str, str], calls: list[str], path: str
) -> None:
    """httpx resolves ``..``: forwarded, a path authorised as one route would reach another."""
    await _login_as(client, auth, members, "teacher")
    response = await client.put(path, json={})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_path"
    assert calls == []
