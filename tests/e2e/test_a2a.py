"""An external agent posts into a room through the A2A webhook, on the real fleet."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from coagent_cli.fleet import Fleet
from coagent_cli.testing import eventually

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def setup(fleet: Fleet) -> dict[str, Any]:
    """A course, a room, and an external agent assigned to the room (with its token)."""
    name = f"Outside Bot {uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        course = admin.post("/api/v1/courses/", json={"title": "A2A", "description": "d"})
        assert course.status_code in (200, 201), course.text
        room = admin.post("/api/v1/rooms/", json={"name": "Lab", "course_id": course.json()["id"]})
        assert room.status_code in (200, 201), room.text
        agent = admin.post(
            "/api/v1/agents/global",
            json={
                "name": name,
                "type": "teacher",
                "model_provider": "external",
                "is_external": True,
                "external_config": {"webhook_url": "https://agent.example/hook"},
            },
        )
        assert agent.status_code == 201, agent.text
        room_id = room.json()["id"]
        assigned = admin.post(
            f"/api/v1/rooms/{room_id}/agents", json={"agent_id": agent.json()["id"]}
        )
        assert assigned.status_code == 201, assigned.text
    return {
        "room_id": room_id,
        "agent_id": agent.json()["id"],
        "token": agent.json()["callback_token"],
        "name": name,
    }


async def test_an_external_agent_posts_into_its_room(fleet: Fleet, setup: dict[str, Any]) -> None:
    room_id = setup["room_id"]
    content = f"hello from outside {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=fleet.gateway_url, timeout=10) as anonymous:
        health = await anonymous.get("/api/v1/a2a/health")
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        posted = await anonymous.post(
            "/api/v1/a2a/webhook",
            json={"type": "broadcast", "content": content, "metadata": {"room_id": room_id}},
            headers={"X-Agent-ID": setup["agent_id"], "X-Agent-Token": setup["token"]},
        )
        assert posted.status_code == 202, posted.text
        assert posted.json()["success"] is True

    async with httpx.AsyncClient(base_url=fleet.gateway_url, timeout=10) as admin:
        response = await admin.post(
            "/api/v1/login/access-token",
            files={"username": (None, ADMIN_EMAIL), "password": (None, ADMIN_PASSWORD)},
        )
        assert response.status_code == 200

        async def stored() -> dict[str, Any] | None:
            history = (await admin.get(f"/api/v1/chat/messages/{room_id}")).json()
            return next((m for m in history if m["content"] == content), None)

        message = await eventually(stored, "the A2A message in the room's history", 20)
    assert message["sender"] == setup["name"]
    assert message["metadata"]["is_ai"] is True


async def test_a_wrong_token_is_refused(fleet: Fleet, setup: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=fleet.gateway_url, timeout=10) as anonymous:
        response = await anonymous.post(
            "/api/v1/a2a/webhook",
            json={"content": "intruder", "metadata": {"room_id": setup["room_id"]}},
            headers={"X-Agent-ID": setup["agent_id"], "X-Agent-Token": "not-the-token"},
        )
    assert (response.status_code, response.json()["code"]) == (401, "invalid_agent_token")
