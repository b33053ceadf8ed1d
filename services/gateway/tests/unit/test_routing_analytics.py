"""``/api/v1/analytics/{course_id}``: members read, staff generate, outsiders see nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.routing.analytics import router as analytics_router
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, verify_identity
from coagent_kit.settings import ServiceSettings

from ..conftest import SECRET, AuthKit
from .membership_kit import World, course_world


class EngineSettings(ServiceSettings):
    service_name = "workflow-engine"


def fake_engine(calls: list[dict[str, Any]]) -> FastAPI:
    """Records each call with the identity it carried; lists nothing, queues everything."""
    app = build_app(EngineSettings(env="test"), title="engine")

    @app.get("/api/v1/analytics/{course_id}")
    async def listed(course_id: str, request: Request) -> list[dict[str, Any]]:
        identity = verify_identity(SECRET, request.headers[HEADER], "workflow-engine")
        calls.append({"path": request.url.path, "role": identity.resource_role})
        return [{"id": "rep1", "content": "# ok", "created_at": "2026-01-01T00:00:00Z"}]

    @app.post("/api/v1/analytics/{course_id}/generate", status_code=202)
    async def generate(course_id: str, request: Request) -> dict[str, str]:
        identity = verify_identity(SECRET, request.headers[HEADER], "workflow-engine")
        calls.append(
            {"path": request.url.path, "role": identity.resource_role, "body": await request.json()}
        )
        return {"id": "rep2", "status": "queued"}

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
        services = ServiceClient(
            urls, SECRET, transport=httpx.ASGITransport(app=fake_engine(calls))
        )
        w.kit.app.state.services = services
        w.kit.app.include_router(analytics_router)
        yield w
        await services.aclose()


async def _rooms(w: World, *names: str) -> list[str]:
    ids = []
    for name in names:
        made = await w.as_(w.teacher).post(
            "/api/v1/rooms/", {"name": name, "course_id": w.course_id}
        )
        assert made.status_code in (200, 201), made.text
        ids.append(made.json()["id"])
    return ids


async def test_members_read_the_reports_outsiders_get_404(
    world: World, calls: list[dict[str, Any]]
) -> None:
    url = f"/api/v1/analytics/{world.course_id}"
    listed = await world.as_(world.student).get(url)
    assert listed.status_code == 200, listed.text
    assert listed.json()[0]["id"] == "rep1"
    assert calls == [{"path": url, "role": "student"}]

    hidden = await world.as_(world.outsider).get(url)
    missing = await world.as_(world.student).get("/api/v1/analytics/no-such-course")
    assert hidden.status_code == missing.status_code == 404
    assert len(calls) == 1  # refused requests never reach the engine


async def test_staff_generate_with_the_courses_room_ids_students_may_not(
    world: World, calls: list[dict[str, Any]]
) -> None:
    room_ids = await _rooms(world, "Lab", "Lecture")
    url = f"/api/v1/analytics/{world.course_id}/generate"

    refused = await world.as_(world.student).post(url, {"room_ids": ["elsewhere"]})
    outsider = await world.as_(world.outsider).post(url, {})
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert outsider.status_code == 404
    assert calls == []

    for staff in (world.teacher, world.ta, world.admin):
        queued = await world.as_(staff).post(url, {"room_ids": ["elsewhere"]})
        assert (queued.status_code, queued.json()) == (202, {"id": "rep2", "status": "queued"})
    sent = calls[0]["body"]
    assert sorted(sent["room_ids"]) == sorted(room_ids)  # the client's body is ignored
    assert sorted(sent["room_names"].values()) == ["Lab", "Lecture"]
    assert [c["role"] for c in calls] == ["owner", "ta", None]
