"""``POST /api/v1/courses/{course_id}/graph/query``: course readers ask, outsiders see nothing,
and graphrag-query is sent exactly the course's rooms the caller may read, never the client's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from coagent_gateway import policy
from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.domain import PlatformRole
from coagent_gateway.policy import Action
from coagent_gateway.routing.course_graph import router as course_graph_router
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, verify_identity
from coagent_kit.settings import ServiceSettings

from ..conftest import SECRET, AuthKit
from .membership_kit import World, course_world

QUESTION = {"question": "When is the demo?", "mode": "basic"}


class QuerySettings(ServiceSettings):
    service_name = "graphrag-query"


def fake_query(calls: list[dict[str, Any]]) -> FastAPI:
    """Records each course question with the identity it carried; answers with its rooms."""
    app = build_app(QuerySettings(env="test"), title="graphrag-query")

    @app.post("/internal/v1/graph/query")
    async def ask(request: Request) -> dict[str, Any]:
        identity = verify_identity(SECRET, request.headers[HEADER], "graphrag-query")
        body = await request.json()
        calls.append({"user": identity.user_id, "role": identity.resource_role, "body": body})
        return {"answer": "ok", "found": True, "rooms": body["rooms"]}

    return app


@pytest.fixture
def calls() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def world(
    settings: GatewaySettings, auth: AuthKit, calls: list[dict[str, Any]]
) -> AsyncIterator[World]:
    async with course_world(settings, auth) as w:
        urls = {name: f"http://{name}" for name in settings.service_urls()}
        services = ServiceClient(urls, SECRET, transport=httpx.ASGITransport(app=fake_query(calls)))
        w.kit.app.state.services = services
        w.kit.app.include_router(course_graph_router)
        yield w
        await services.aclose()


async def _room(w: World, course_id: str, name: str) -> str:
    made = await w.as_(w.teacher).post("/api/v1/rooms/", {"name": name, "course_id": course_id})
    assert made.status_code in (200, 201), made.text
    return str(made.json()["id"])


async def _other_course(w: World) -> str:
    made = await w.as_(w.teacher).post("/api/v1/courses/", {"title": "Other", "description": "y"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_course_readers_ask_over_exactly_the_courses_rooms(
    world: World, calls: list[dict[str, Any]]
) -> None:
    lab, lecture = (
        await _room(world, world.course_id, "Lab"),
        await _room(world, world.course_id, "Lecture"),
    )
    elsewhere = await _room(world, await _other_course(world), "Elsewhere")
    url = f"/api/v1/courses/{world.course_id}/graph/query"
    for user in (world.student, world.ta, world.teacher, world.admin):
        # A room list in the body is not the client's to choose: it is ignored.
        asked = await world.as_(user).post(url, {**QUESTION, "rooms": [elsewhere]})
        assert asked.status_code == 200, asked.text
        assert sorted(asked.json()["rooms"]) == sorted([lab, lecture])
    sent = calls[0]["body"]
    assert sent == {**QUESTION, "level": None, "rooms": sent["rooms"]}
    assert elsewhere not in sent["rooms"]
    assert [(c["role"]) for c in calls] == ["student", "ta", "owner", None]
    assert calls[0]["user"] == world.student.id


async def test_outsiders_and_unknown_courses_get_404_and_reach_nothing(
    world: World, calls: list[dict[str, Any]]
) -> None:
    await _room(world, world.course_id, "Lab")
    hidden = await world.as_(world.outsider).post(
        f"/api/v1/courses/{world.course_id}/graph/query", QUESTION
    )
    missing = await world.as_(world.student).post("/api/v1/courses/nope/graph/query", QUESTION)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "course_not_found")
    assert missing.status_code == 404
    anonymous = await world.client.post(
        f"/api/v1/courses/{world.course_id}/graph/query", json=QUESTION
    )
    assert anonymous.status_code == 401
    assert calls == []


async def test_a_course_without_rooms_and_a_bad_body(
    world: World, calls: list[dict[str, Any]]
) -> None:
    url = f"/api/v1/courses/{world.course_id}/graph/query"
    empty = await world.as_(world.student).post(url, QUESTION)
    assert (empty.status_code, empty.json()["rooms"]) == (200, [])
    assert calls[0]["body"]["rooms"] == []
    for body in ({"question": ""}, {"question": "x", "mode": "psychic"}, {}):
        refused = await world.as_(world.student).post(url, body)
        assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")
    assert len(calls) == 1


async def test_a_guest_enrolled_nowhere_is_refused(world: World) -> None:
    guest = await world.kit.user("gus", PlatformRole.GUEST)
    refused = await world.as_(guest).post(
        f"/api/v1/courses/{world.course_id}/graph/query", QUESTION
    )
    assert refused.status_code == 404


async def test_rooms_the_policy_hides_from_the_caller_are_not_sent(
    world: World, calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab, lecture = [await _room(world, world.course_id, n) for n in ("Lab", "Lecture")]
    rule = policy.RULES[Action.ROOM_READ]
    # A policy that keeps one room from students (the course itself stays readable).
    monkeypatch.setitem(policy.RULES, Action.ROOM_READ, lambda u, r: r.id != lecture and rule(u, r))
    url = f"/api/v1/courses/{world.course_id}/graph/query"
    asked = await world.as_(world.student).post(url, QUESTION)
    assert asked.status_code == 200, asked.text
    assert calls[-1]["body"]["rooms"] == [lab]
