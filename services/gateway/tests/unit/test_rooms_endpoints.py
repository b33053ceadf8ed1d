"""``/rooms/*`` over HTTP, and the ``room_access`` check other routes use."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coagent_contracts.gateway import MembershipChangedV1, RoomChangedV1
from coagent_gateway.policy import Action
from coagent_gateway.rooms.domain import RoomNotFound
from coagent_gateway.settings import GatewaySettings
from coagent_kit.errors import Forbidden

from ..conftest import AuthKit
from .membership_kit import World, course_world


@pytest.fixture
async def world(settings: GatewaySettings, auth: AuthKit) -> AsyncIterator[World]:
    async with course_world(settings, auth) as w:
        yield w


async def _room(w: World, name: str = "Lab") -> str:
    created = await w.as_(w.ta).post("/api/v1/rooms/", {"name": name, "course_id": w.course_id})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_room_shape_and_listing(world: World) -> None:
    w = world
    room_id = await _room(w)
    room = (await w.as_(w.student).get(f"/api/v1/rooms/{room_id}")).json()
    expected = {
        "id",
        "name",
        "course_id",
        "is_ai_active",
        "ai_frequency",
        "is_analytics_active",
        "attached_workflow_id",
    }
    assert expected <= set(room)
    assert (room["course_id"], room["is_ai_active"], room["ai_frequency"]) == (
        w.course_id,
        True,
        0.5,
    )
    listed = await w.as_(w.student).get("/api/v1/rooms/", course_id=w.course_id)
    assert [r["id"] for r in listed.json()] == [room_id]


async def test_staff_update_and_delete_rooms(world: World) -> None:
    w = world
    room_id = await _room(w)
    path = f"/api/v1/rooms/{room_id}"
    body = {"ai_frequency": 0.9, "is_analytics_active": True, "attached_workflow_id": "wf-1"}
    assert (await w.as_(w.student).put(path, body)).status_code == 403
    updated = await w.as_(w.teacher).put(path, {**body, "id": "ignored"})
    assert updated.status_code == 200
    got = updated.json()
    assert (got["ai_frequency"], got["is_analytics_active"], got["attached_workflow_id"]) == (
        0.9,
        True,
        "wf-1",
    )
    assert got["name"] == "Lab"
    assert (await w.as_(w.teacher).put(path, {"ai_frequency": 2})).status_code == 422
    assert (await w.as_(w.student).delete(path)).status_code == 403
    assert (await w.as_(w.ta).delete(path)).status_code == 204
    assert (await w.as_(w.ta).get(path)).json()["code"] == "room_not_found"


async def test_students_cannot_create_rooms(world: World) -> None:
    w = world
    body = {"name": "Mine", "course_id": w.course_id}
    assert (await w.as_(w.student).post("/api/v1/rooms/", body)).status_code == 403
    hidden = await w.as_(w.outsider).post("/api/v1/rooms/", body)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "course_not_found")


async def test_assign_requires_course_membership_and_queues_events(world: World) -> None:
    w = world
    room_id = await _room(w)
    path = f"/api/v1/rooms/{room_id}/assign"
    w.kit.state.published.clear()
    outsider = await w.as_(w.ta).post(path, {"user_id": w.outsider.id, "user_email": None})
    assert (outsider.status_code, outsider.json()["code"]) == (409, "not_a_course_member")
    ok = await w.as_(w.ta).post(path, {"user_email": "STU@example.org", "user_id": None})
    assert ok.status_code == 200
    again = await w.as_(w.ta).post(path, {"user_id": w.student.id})
    assert again.json()["message"] == "User already assigned to room"
    assert (await w.as_(w.student).post(path, {"user_id": w.ta.id})).status_code == 403
    removed = await w.as_(w.ta).delete(f"{path}/{w.student.id}")
    assert removed.status_code == 200
    assert (await w.as_(w.ta).delete(f"{path}/{w.student.id}")).status_code == 404
    events = [e for e in w.kit.state.published if isinstance(e, MembershipChangedV1)]
    assert [(e.data.change, e.data.role) for e in events] == [
        ("added", "student"),
        ("removed", None),
    ]
    assert events[0].subject.startswith("gateway.room.")
    assert events[0].data.room_id == room_id
    audited = [a for a in w.kit.auth.audit.actions() if str(a).startswith("room.member.")]
    assert audited == ["room.member.added", "room.member.removed"]


async def test_room_access_resolves_room_course_and_role(world: World) -> None:
    w = world
    room_id = await _room(w)
    room_access = w.kit.app.state.room_access
    access = await room_access(w.student, room_id)
    assert (access.room.id, access.course.id, access.role) == (room_id, w.course_id, "student")
    admin_access = await room_access(w.admin, room_id, Action.ROOM_DELETE)
    assert admin_access.role is None
    with pytest.raises(RoomNotFound):
        await room_access(w.outsider, room_id)
    with pytest.raises(RoomNotFound):
        await room_access(w.student, "missing")
    with pytest.raises(Forbidden):
        await room_access(w.student, room_id, Action.ROOM_MANAGE_AGENTS)


async def test_room_changes_are_announced_with_the_attacher(world: World) -> None:
    w = world
    room_id = await _room(w)
    path = f"/api/v1/rooms/{room_id}"
    assert (await w.as_(w.teacher).put(path, {"attached_workflow_id": "wf-1"})).status_code == 200
    assert (await w.as_(w.ta).put(path, {"name": "Renamed"})).status_code == 200
    assert (await w.as_(w.ta).put(path, {"attached_workflow_id": None})).status_code == 200
    assert (await w.as_(w.ta).delete(path)).status_code == 204

    changes = [e.data for e in w.kit.state.published if isinstance(e, RoomChangedV1)]
    assert [(c.attached_workflow_id, c.attached_by, c.deleted) for c in changes] == [
        (None, None, False),  # created
        ("wf-1", w.teacher.id, False),  # whoever attaches is the attacher
        ("wf-1", w.teacher.id, False),  # a rename keeps them
        (None, None, False),
        (None, None, True),
    ]
    assert {(c.room_id, c.course_id) for c in changes} == {(room_id, w.course_id)}
