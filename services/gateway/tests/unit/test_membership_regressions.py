"""Regressions for the seed-api §8 findings about courses, rooms, announcements, orgs, projects.

F3 (self-promotion), F4 (no secrets in responses), F7 (IDOR), F9 (TAs minting teachers),
F12 (401 not 403 without credentials), F17 (super admin consistency), F20 (membership model),
F22 (deletes cascade), F31 (email case).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coagent_gateway.domain import PlatformRole
from coagent_gateway.settings import GatewaySettings

from ..conftest import AuthKit
from .membership_kit import World, course_world


@pytest.fixture
async def world(settings: GatewaySettings, auth: AuthKit) -> AsyncIterator[World]:
    async with course_world(settings, auth) as w:
        yield w


async def _room(w: World) -> str:
    created = await w.as_(w.teacher).post("/api/v1/rooms/", {"name": "R", "course_id": w.course_id})
    return str(created.json()["id"])


async def test_f7_outsiders_cannot_read_rooms_announcements_or_members(world: World) -> None:
    w = world
    room_id = await _room(w)
    o = w.as_(w.outsider)
    for response in (
        await o.get("/api/v1/rooms/", course_id=w.course_id),
        await o.get("/api/v1/announcements/", course_id=w.course_id),
        await o.get(f"/api/v1/courses/{w.course_id}/members"),
        await o.get(f"/api/v1/courses/{w.course_id}"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "course_not_found")
    for response in (
        await o.get(f"/api/v1/rooms/{room_id}"),
        await o.put(f"/api/v1/rooms/{room_id}", {"ai_frequency": 1}),
        await o.delete(f"/api/v1/rooms/{room_id}"),
        await o.post(f"/api/v1/rooms/{room_id}/assign", {"user_id": w.outsider.id}),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "room_not_found")
    body = {"course_id": w.course_id, "title": "x", "content": "y"}
    assert (await o.post("/api/v1/announcements/", body)).status_code == 404


async def test_f9_tas_cannot_mint_or_touch_tas_and_teachers(world: World) -> None:
    w = world
    ta = w.as_(w.ta)
    enroll = f"/api/v1/courses/{w.course_id}/enroll"
    members = f"/api/v1/courses/{w.course_id}/members"
    for role in ("ta", "teacher"):
        minted = await ta.post(enroll, {"user_id": w.outsider.id, "role": role})
        assert (minted.status_code, minted.json()["code"]) == (403, "forbidden")
        promoted = await ta.put(f"{members}/{w.student.id}", {"role": role})
        assert promoted.status_code == 403
    co_ta = await w.kit.user("tina")
    await w.as_(w.teacher).post(enroll, {"user_id": co_ta.id, "role": "ta"})
    assert (await ta.put(f"{members}/{co_ta.id}", {"role": "student"})).status_code == 403
    assert (await ta.delete(f"{members}/{co_ta.id}")).status_code == 403
    assert (await ta.delete(f"{members}/{w.teacher.id}")).status_code in (400, 403)
    # What TAs may do: manage students.
    assert (await ta.post(enroll, {"user_id": w.outsider.id, "role": "student"})).is_success
    assert (await ta.delete(f"{members}/{w.outsider.id}")).is_success
    # Role strings are validated (the reference stored any string).
    junk = await w.as_(w.teacher).post(enroll, {"user_id": w.outsider.id, "role": "superuser"})
    assert junk.status_code == 422


async def test_f3_nobody_raises_their_own_course_role(world: World) -> None:
    w = world
    members = f"/api/v1/courses/{w.course_id}/members"
    for user, role in ((w.student, "ta"), (w.student, "teacher"), (w.ta, "teacher")):
        response = await w.as_(user).put(f"{members}/{user.id}", {"role": role})
        assert response.status_code == 403
    roles = {m["user_id"]: m["role"] for m in (await w.as_(w.teacher).get(members)).json()}
    assert (roles[w.student.id], roles[w.ta.id]) == ("student", "ta")


async def test_f20_a_co_teacher_has_teacher_rights(world: World) -> None:
    w = world
    co = await w.kit.user("cora")
    enroll = {"user_id": co.id, "role": "teacher"}
    assert (await w.as_(w.teacher).post(f"/api/v1/courses/{w.course_id}/enroll", enroll)).is_success
    c = w.as_(co)
    body = {"title": "Renamed", "description": None}
    assert (await c.put(f"/api/v1/courses/{w.course_id}", body)).status_code == 200
    promote = await c.put(f"/api/v1/courses/{w.course_id}/members/{w.student.id}", {"role": "ta"})
    assert promote.status_code == 200


async def test_f20_room_assignment_requires_course_membership(world: World) -> None:
    w = world
    room_id = await _room(w)
    response = await w.as_(w.teacher).post(
        f"/api/v1/rooms/{room_id}/assign", {"user_id": w.outsider.id}
    )
    assert (response.status_code, response.json()["code"]) == (409, "not_a_course_member")


async def test_f20_removing_a_member_closes_their_rooms(world: World) -> None:
    w = world
    room_id = await _room(w)
    await w.as_(w.teacher).post(f"/api/v1/rooms/{room_id}/assign", {"user_id": w.student.id})
    await w.as_(w.teacher).delete(f"/api/v1/courses/{w.course_id}/members/{w.student.id}")
    assert (await w.as_(w.student).get(f"/api/v1/rooms/{room_id}")).status_code == 404
    assert w.student.id not in w.kit.state.rooms[room_id].member_ids


async def test_f17_admins_and_super_admins_are_consistent_on_orgs_and_courses(
    world: World,
) -> None:
    w = world
    org = (await w.as_(w.student).post("/api/v1/organizations", {"name": "S"})).json()
    root = await w.kit.user("root", PlatformRole.SUPER_ADMIN)
    for admin in (w.admin, root):
        a = w.as_(admin)
        assert (await a.get(f"/api/v1/organizations/{org['id']}")).status_code == 200
        assert (await a.get(f"/api/v1/courses/{w.course_id}/members")).status_code == 200
        body = {"course_id": w.course_id, "title": "t", "content": "c"}
        assert (await a.post("/api/v1/announcements/", body)).status_code == 201


async def test_f4_no_secret_or_hash_in_membership_responses(world: World) -> None:
    w = world
    await _room(w)
    t = w.as_(w.teacher)
    for response in (
        await t.get("/api/v1/courses/"),
        await t.get(f"/api/v1/courses/{w.course_id}/members"),
        await t.get("/api/v1/rooms/", course_id=w.course_id),
    ):
        text = response.text.lower()
        for secret in ("password", "hash", "plain:"):
            assert secret not in text


async def test_f12_missing_credentials_are_401(world: World) -> None:
    for path in ("/api/v1/courses/", "/api/v1/organizations", "/api/v1/rooms/x"):
        assert (await world.client.get(path)).status_code == 401


async def test_f22_deleting_a_course_removes_its_rooms(world: World) -> None:
    w = world
    room_id = await _room(w)
    assert (await w.as_(w.teacher).delete(f"/api/v1/courses/{w.course_id}")).status_code == 204
    assert (await w.as_(w.admin).get(f"/api/v1/rooms/{room_id}")).status_code == 404


async def test_f31_emails_match_whatever_their_case(world: World) -> None:
    w = world
    body = {"user_email": "  Otto@EXAMPLE.org ", "role": "student"}
    assert (await w.as_(w.teacher).post(f"/api/v1/courses/{w.course_id}/enroll", body)).is_success
