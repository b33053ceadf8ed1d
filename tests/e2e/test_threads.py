"""The agent sandbox through the gateway: the caller's own agents and threads, offline replies."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from coagent_cli.fleet import Fleet

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = pytest.mark.e2e

PASSWORD = "another-horse-battery"


def _teacher(admin: httpx.Client) -> str:
    email = f"t-{uuid.uuid4().hex[:8]}@example.org"
    created = admin.post(
        "/api/v1/users/", json={"email": email, "password": PASSWORD, "role": "teacher"}
    )
    assert created.status_code == 201, created.text
    return email


def test_a_user_talks_to_their_agent_and_nobody_else_can(fleet: Fleet) -> None:
    project = str(uuid.uuid4())
    with (
        httpx.Client(base_url=fleet.gateway_url, timeout=30) as owner,
        httpx.Client(base_url=fleet.gateway_url, timeout=30) as other,
    ):
        login(owner, ADMIN_EMAIL, ADMIN_PASSWORD)
        login(other, _teacher(owner), PASSWORD)
        agent = other.post(
            f"/api/v1/agents/{project}",
            json={"name": "Sandboxed", "type": "teacher", "system_prompt": "Be brief."},
        )
        assert agent.status_code == 201, agent.text
        agent_id = agent.json()["id"]

        stateless = other.post(f"/api/v1/threads/stateless/{agent_id}", json={"message": "Hi"})
        assert stateless.status_code == 200, stateless.text
        assert json.loads(stateless.json()["metadata_json"])["offline"] is True

        thread = other.post("/api/v1/threads", json={"agent_id": agent_id, "project_id": project})
        assert thread.status_code == 201, thread.text
        thread_id = thread.json()["id"]
        answer = other.post(f"/api/v1/threads/{thread_id}/messages", json={"message": "2+2?"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["role"] == "assistant"
        stored = other.get(f"/api/v1/threads/{thread_id}/messages").json()
        assert [m["role"] for m in stored] == ["user", "assistant"]
        assert [t["id"] for t in other.get("/api/v1/threads").json()] == [thread_id]

        # Another user (even a super admin) never sees the thread; only the owner's agent
        # rules decide who may talk to it (admins may, as they manage every agent).
        hidden = owner.get(f"/api/v1/threads/{thread_id}/messages")
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "thread_not_found"
        assert owner.get("/api/v1/threads").json() == []
