"""A trigger's scope is authorised when it is written, by the gateway's own rules, through the
whole fleet: a teacher may scope a policy to their course or its rooms, not to a course they are
not in, until they are enrolled (the trigger asks the gateway's internal access routes)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from coagent_cli.fleet import Fleet
from coagent_cli.testing import eventually

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = pytest.mark.e2e
PASSWORD = "another-horse-battery"


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _course_with_room(client: httpx.Client, title: str) -> tuple[str, str]:
    course = _created(client.post("/api/v1/courses/", json={"title": title}))["id"]
    room = _created(client.post("/api/v1/rooms/", json={"name": "Lab", "course_id": course}))
    return str(course), str(room["id"])


def _policy(client: httpx.Client, **scope: str) -> httpx.Response:
    body = {"event_type": "manual", "target_workflow_id": "wf-none", **scope}
    return client.post("/api/v1/triggers", json=body)


def test_a_teacher_scopes_triggers_only_where_the_gateway_lets_them_act(fleet: Fleet) -> None:
    suffix = uuid.uuid4().hex[:8]
    with (
        httpx.Client(base_url=fleet.gateway_url, timeout=30) as admin,
        httpx.Client(base_url=fleet.gateway_url, timeout=30) as teacher,
    ):
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        email = f"scope-{suffix}@example.org"
        user = _created(
            admin.post(
                "/api/v1/users/", json={"email": email, "password": PASSWORD, "role": "teacher"}
            )
        )
        login(teacher, email, PASSWORD)
        own_course, own_room = _course_with_room(teacher, f"Mine-{suffix}")
        other_course, other_room = _course_with_room(admin, f"Theirs-{suffix}")

        mine = _created(_policy(teacher, scope_course_id=own_course))
        assert (mine["scope_course_id"], mine["scope_session_id"]) == (own_course, None)
        assert _policy(teacher, scope_session_id=own_room).status_code == 201
        for scope in ({"scope_course_id": other_course}, {"scope_session_id": other_room}):
            refused = _policy(teacher, **scope)
            assert (refused.status_code, refused.json()["code"]) == (403, "scope_forbidden")
        moved = teacher.put(
            f"/api/v1/triggers/{mine['id']}", json={"scope_course_id": other_course}
        )
        assert (moved.status_code, moved.json()["code"]) == (403, "scope_forbidden")

        enrolled = admin.post(
            f"/api/v1/courses/{other_course}/enroll",
            json={"user_email": None, "user_id": user["id"], "role": "student"},
        )
        assert enrolled.status_code < 300, enrolled.text

        async def allowed_now() -> dict[str, Any] | None:
            await asyncio.sleep(0.5)
            response = _policy(teacher, scope_course_id=other_course)
            return _created(response) if response.status_code == 201 else None

        # The cached refusal is dropped by the membership event announced on the course's room
        # (at the latest when its 30 s TTL ends).
        granted = asyncio.run(eventually(allowed_now, "the scope allowed after enrolment", 45))
        assert granted["scope_course_id"] == other_course
