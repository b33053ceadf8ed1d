"""``/courses/*`` and ``/announcements/*`` over HTTP on memory adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coagent_contracts.gateway import MembershipChangedV1
from coagent_gateway.settings import GatewaySettings

from ..conftest import AuthKit
from .membership_kit import World, course_world


@pytest.fixture
async def world(settings: GatewaySettings, auth: AuthKit) -> AsyncIterator[World]:
    async with course_world(settings, auth) as w:
        yield w


async def test_course_shape_and_creator_is_enrolled_as_teacher(world: World) -> None:
    w = world
    course = (await w.as_(w.student).get(f"/api/v1/courses/{w.course_id}")).json()
    assert {"id", "title", "description", "owner_id", "owner_name", "created_at"} <= set(course)
    assert course["owner_id"] == w.teacher.id
    assert course["owner_name"] == "Tess"
    members = (await w.as_(w.student).get(f"/api/v1/courses/{w.course_id}/members")).json()
    roles = {m["user_id"]: m["role"] for m in members}
    assert roles == {w.teacher.id: "teacher", w.ta.id: "ta", w.student.id: "student"}
    assert set(members[0]) == {"user_id", "email", "full_name", "avatar_url", "role"}


async def test_listing_shows_own_courses_and_admins_see_all(world: World) -> None:
    w = world
    other = await w.as_(w.admin).post("/api/v1/courses/", {"title": "Other"})
    assert other.status_code == 201
    student_ids = [c["id"] for c in (await w.as_(w.student).get("/api/v1/courses/")).json()]
    admin_ids = {c["id"] for c in (await w.as_(w.admin).get("/api/v1/courses/")).json()}
    assert student_ids == [w.course_id]
    assert admin_ids == {w.course_id, other.json()["id"]}
    assert (await w.as_(w.outsider).get("/api/v1/courses/")).json() == []


async def test_students_cannot_create_courses(world: World) -> None:
    response = await world.as_(world.student).post("/api/v1/courses/", {"title": "Mine"})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_unknown_and_invisible_courses_are_404(world: World) -> None:
    w = world
    for user, course_id in ((w.student, "nope"), (w.outsider, w.course_id)):
        response = await w.as_(user).get(f"/api/v1/courses/{course_id}")
        assert response.status_code == 404
        assert response.json()["code"] == "course_not_found"


async def test_update_and_delete_are_for_teachers(world: World) -> None:
    w = world
    path = f"/api/v1/courses/{w.course_id}"
    body = {"title": "Algebra II", "description": None}
    assert (await w.as_(w.ta).put(path, body)).status_code == 403
    assert (await w.as_(w.student).delete(path)).status_code == 403
    updated = await w.as_(w.teacher).put(path, body)
    assert updated.status_code == 200
    assert updated.json()["title"] == "Algebra II"
    assert (await w.as_(w.teacher).delete(path)).status_code == 204
    assert (await w.as_(w.teacher).get(path)).status_code == 404


async def test_enrol_by_email_is_case_insensitive_and_idempotent(world: World) -> None:
    w = world
    path = f"/api/v1/courses/{w.course_id}/enroll"
    body = {"user_email": "OTTO@Example.ORG", "user_id": None, "role": "student"}
    first = await w.as_(w.ta).post(path, body)
    assert first.status_code == 200
    assert "enrolled" in first.json()["message"]
    again = await w.as_(w.ta).post(path, body)
    assert again.json()["message"] == "User already enrolled"
    assert (await w.as_(w.outsider).get(f"/api/v1/courses/{w.course_id}")).status_code == 200


async def test_enrol_errors(world: World) -> None:
    w = world
    path = f"/api/v1/courses/{w.course_id}/enroll"
    missing = await w.as_(w.teacher).post(path, {"user_email": "ghost@example.org"})
    assert (missing.status_code, missing.json()["code"]) == (404, "user_not_found")
    neither = await w.as_(w.teacher).post(path, {"role": "student"})
    assert (neither.status_code, neither.json()["code"]) == (422, "user_reference_required")
    bad_role = await w.as_(w.teacher).post(path, {"user_id": w.outsider.id, "role": "owner"})
    assert (bad_role.status_code, bad_role.json()["code"]) == (422, "validation_error")
    by_student = await w.as_(w.student).post(path, {"user_id": w.outsider.id})
    assert by_student.status_code == 403


async def test_member_role_changes_and_removal(world: World) -> None:
    w = world
    base = f"/api/v1/courses/{w.course_id}/members"
    promoted = await w.as_(w.teacher).put(f"{base}/{w.student.id}", {"role": "ta"})
    assert promoted.status_code == 200
    assert (await w.as_(w.teacher).delete(f"{base}/{w.student.id}")).status_code == 200
    gone = await w.as_(w.teacher).delete(f"{base}/{w.student.id}")
    assert (gone.status_code, gone.json()["code"]) == (404, "member_not_found")
    owner = await w.as_(w.admin).put(f"{base}/{w.teacher.id}", {"role": "student"})
    assert (owner.status_code, owner.json()["code"]) == (400, "course_owner_protected")


async def test_enrolment_changes_queue_one_event_per_room(world: World) -> None:
    w = world
    rooms = []
    for name in ("A", "B"):
        r = await w.as_(w.teacher).post("/api/v1/rooms/", {"name": name, "course_id": w.course_id})
        rooms.append(r.json()["id"])
    w.kit.state.published.clear()
    body = {"user_id": w.outsider.id, "role": "student"}
    await w.as_(w.teacher).post(f"/api/v1/courses/{w.course_id}/enroll", body)
    await w.as_(w.teacher).put(
        f"/api/v1/courses/{w.course_id}/members/{w.outsider.id}", {"role": "ta"}
    )
    await w.as_(w.teacher).delete(f"/api/v1/courses/{w.course_id}/members/{w.outsider.id}")
    events = [e for e in w.kit.state.published if isinstance(e, MembershipChangedV1)]
    seen = [(e.data.change, e.data.room_id, e.data.role) for e in events]
    assert seen == [
        ("added", rooms[0], "student"),
        ("added", rooms[1], "student"),
        ("role_changed", rooms[0], "ta"),
        ("role_changed", rooms[1], "ta"),
        ("removed", rooms[0], None),
        ("removed", rooms[1], None),
    ]
    assert {e.data.course_id for e in events} == {w.course_id}
    assert {e.data.user_id for e in events} == {w.outsider.id}
    audited = [a for a in w.kit.auth.audit.actions() if str(a).startswith("course.member.")]
    assert audited[-3:] == [
        "course.member.added",
        "course.member.role_changed",
        "course.member.removed",
    ]


async def test_announcements_for_members_only(world: World) -> None:
    w = world
    body = {"course_id": w.course_id, "title": "Quiz", "content": "Friday"}
    created = await w.as_(w.ta).post("/api/v1/announcements/", body)
    assert created.status_code == 201
    assert {"id", "title", "content", "created_at"} <= set(created.json())
    listed = await w.as_(w.student).get("/api/v1/announcements/", course_id=w.course_id)
    assert [a["title"] for a in listed.json()] == ["Quiz"]
    assert (await w.as_(w.student).post("/api/v1/announcements/", body)).status_code == 403
    missing = await w.as_(w.student).get("/api/v1/announcements/")
    assert missing.status_code == 422
