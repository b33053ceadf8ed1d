"""A dry run in a room through the gateway: chat's recent messages replayed, nothing fired."""

from __future__ import annotations

import uuid

import httpx
import pytest

from coagent_cli.fleet import Fleet

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = pytest.mark.e2e


def test_a_dry_run_replays_the_rooms_messages_without_firing(fleet: Fleet) -> None:
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=fleet.gateway_url, timeout=15) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        course = admin.post("/api/v1/courses/", json={"title": "Dry", "description": "d"})
        assert course.status_code in (200, 201), course.text
        room = admin.post("/api/v1/rooms/", json={"name": "Dry", "course_id": course.json()["id"]})
        assert room.status_code in (200, 201), room.text
        room_id = room.json()["id"]
        for text in ("need help", "all good", f"help again {suffix}"):
            posted = admin.post(f"/api/v1/chat/messages/{room_id}", json={"content": text})
            assert posted.status_code == 201, posted.text
        policy = admin.post(
            "/api/v1/triggers",
            json={
                "name": "Helper",
                "event_type": "user_message",
                "conditions": {"keyword": "help"},
                "target_workflow_id": f"wf-{suffix}",
                "scope_session_id": room_id,
                "is_active": False,  # the posts above must not fire it for real
            },
        )
        assert policy.status_code == 201, policy.text
        policy_id = policy.json()["id"]

        response = admin.post(f"/api/v1/rooms/{room_id}/triggers/{policy_id}/dry-run")

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["replayed"] >= 3  # and any notices chat stored
        assert len(body["firings"]) == 2
        assert [f["count"] for f in body["firings"]] == [1, 2]
        assert admin.get(f"/api/v1/triggers/{policy_id}/firings").json() == []
        elsewhere = admin.post(f"/api/v1/rooms/no-such-room/triggers/{policy_id}/dry-run")
        assert elsewhere.status_code == 404
