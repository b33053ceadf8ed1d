"""``GET /internal/v1/access/rooms/{room}/users/{user}`` and ``…/courses/{course}/users/{user}``
over the real membership stores, and the room events written with room changes (PostgreSQL
migrated to head)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.envelope import utc_now
from coagent_contracts.workflow import RoomWorkflowAttachedData, RoomWorkflowAttachedV1
from coagent_gateway.adapters.auth_postgres import PostgresAuditLog
from coagent_gateway.adapters.membership_postgres import (
    PostgresCourseStore,
    PostgresRoomStore,
    PostgresUserDirectory,
)
from coagent_gateway.adapters.organizations_postgres import PostgresOrganizationStore
from coagent_gateway.adapters.postgres import outbox, users
from coagent_gateway.courses.domain import Course, MembershipChange
from coagent_gateway.rooms.domain import Room, RoomSettings
from coagent_gateway.rooms.internal import router, service_token
from coagent_gateway.rooms.wiring import MembershipStores, install_membership
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

pytestmark = pytest.mark.integration
SECRET = "test-internal-secret-0123456789abcdefghij"


@pytest.fixture
def app(sessions: async_sessionmaker[AsyncSession]) -> FastAPI:
    settings = GatewaySettings(env="test", internal_token_secret=SecretStr(SECRET))
    app = build_app(settings, title="gateway internal access")
    stores = MembershipStores(
        users=PostgresUserDirectory(sessions),
        courses=PostgresCourseStore(sessions, lambda: None),
        rooms=PostgresRoomStore(sessions, lambda: None),
        organizations=PostgresOrganizationStore(sessions),
        audit=PostgresAuditLog(sessions),
    )
    install_membership(app, stores)
    app.include_router(router)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        http.headers[HEADER] = service_token(SECRET, "trigger")
        yield http


async def _user(sessions: async_sessionmaker[AsyncSession], name: str, role: str) -> str:
    user_id = str(uuid.uuid4())
    async with sessions() as session, session.begin():
        await session.execute(
            users.insert().values(
                id=user_id,
                email=f"{name}-{user_id[:8]}@example.org",
                username=f"{name}-{user_id[:8]}",
                hashed_password="h",
                platform_role=role,
            )
        )
    return user_id


async def _room(sessions: async_sessionmaker[AsyncSession], owner: str) -> tuple[str, str]:
    course = await PostgresCourseStore(sessions, lambda: None).create(
        Course(str(uuid.uuid4()), "Physics", None, owner, utc_now())
    )
    room = Room(str(uuid.uuid4()), course.id, RoomSettings(name="Lab"), utc_now())
    await PostgresRoomStore(sessions, lambda: None).create(room)
    return course.id, room.id


def _path(room: str, user: str) -> str:
    return f"/internal/v1/access/rooms/{room}/users/{user}"


async def test_answers_follow_the_gateway_policy(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await _user(sessions, "owner", "teacher")
    student, outsider = await _user(sessions, "stu", "student"), await _user(sessions, "out", "ta")
    admin = await _user(sessions, "adm", "admin")
    course, room = await _room(sessions, owner)
    await PostgresCourseStore(sessions, lambda: None).apply(
        MembershipChange(course, student, "added", "student")
    )

    answers = {u: (await client.get(_path(room, u))).json() for u in (owner, student, outsider)}
    assert (answers[owner]["allowed"], answers[owner]["room_role"]) == (True, "owner")
    assert answers[owner]["platform_role"] == "teacher"
    assert (answers[student]["allowed"], answers[student]["room_role"]) == (True, "student")
    assert (answers[outsider]["allowed"], answers[outsider]["room_role"]) == (False, None)
    assert answers[outsider]["platform_role"] == "ta"
    assert (await client.get(_path(room, admin))).json()["allowed"] is True  # admin override

    await PostgresCourseStore(sessions, lambda: None).apply(
        MembershipChange(course, student, "removed", None)
    )
    assert (await client.get(_path(room, student))).json()["allowed"] is False
    missing = (await client.get(_path("no-such-room", owner))).json()
    assert (missing["allowed"], missing["room_exists"]) == (False, False)
    nobody = (await client.get(_path(room, "no-such-user"))).json()
    assert (nobody["allowed"], nobody["platform_role"]) == (False, None)


def _course_path(course: str, user: str) -> str:
    return f"/internal/v1/access/courses/{course}/users/{user}"


async def test_course_answers_follow_the_gateway_course_read_rule(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await _user(sessions, "owner", "teacher")
    ta, outsider = await _user(sessions, "ta", "student"), await _user(sessions, "out", "teacher")
    admin = await _user(sessions, "adm", "admin")
    course, _ = await _room(sessions, owner)
    courses = PostgresCourseStore(sessions, lambda: None)
    await courses.apply(MembershipChange(course, ta, "added", "ta"))

    answers = {
        u: (await client.get(_course_path(course, u))).json() for u in (owner, ta, outsider, admin)
    }
    assert (answers[owner]["allowed"], answers[owner]["course_role"]) == (True, "owner")
    assert (answers[ta]["allowed"], answers[ta]["course_role"]) == (True, "ta")
    assert answers[ta]["platform_role"] == "student"
    assert (answers[outsider]["allowed"], answers[outsider]["course_role"]) == (False, None)
    assert answers[outsider]["platform_role"] == "teacher"
    assert answers[admin]["allowed"] is True  # admin override, without enrolment
    assert answers[owner]["course_exists"] is True

    await courses.apply(MembershipChange(course, ta, "removed", None))
    assert (await client.get(_course_path(course, ta))).json()["allowed"] is False
    missing = (await client.get(_course_path("no-such-course", owner))).json()
    assert (missing["allowed"], missing["course_exists"], missing["course_role"]) == (
        False,
        False,
        None,
    )
    nobody = (await client.get(_course_path(course, "no-such-user"))).json()
    assert (nobody["allowed"], nobody["platform_role"]) == (False, None)


async def test_the_course_route_takes_service_tokens_only(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await _user(sessions, "owner", "teacher")
    course, _ = await _room(sessions, owner)
    path = _course_path(course, owner)
    assert (await client.get(path, headers={HEADER: ""})).status_code == 401
    as_user = sign_identity(
        SECRET, InternalIdentity(user_id=owner, platform_role="admin"), "gateway"
    )
    denied = await client.get(path, headers={HEADER: as_user})
    assert (denied.status_code, denied.json()["code"]) == (403, "service_token_required")
    assert (await client.get(path)).json()["allowed"] is True


async def test_only_service_tokens_signed_with_the_secret_are_accepted(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await _user(sessions, "owner", "teacher")
    _, room = await _room(sessions, owner)
    path = _path(room, owner)

    missing = await client.get(path, headers={HEADER: ""})
    assert (missing.status_code, missing.json()["code"]) == (401, "identity_missing")
    forged = service_token("another-secret-0123456789abcdefghijkl", "trigger")
    assert (await client.get(path, headers={HEADER: forged})).status_code == 401
    expired = service_token(SECRET, "trigger", ttl=timedelta(seconds=-60))
    assert (await client.get(path, headers={HEADER: expired})).status_code == 401
    # A user's identity (what the gateway signs for services) is not a service token.
    as_user = sign_identity(
        SECRET, InternalIdentity(user_id=owner, platform_role="admin"), "gateway"
    )
    denied = await client.get(path, headers={HEADER: as_user})
    assert (denied.status_code, denied.json()["code"]) == (403, "service_token_required")
    for_chat = sign_identity(
        SECRET, InternalIdentity(user_id="service:trigger", platform_role="service"), "chat"
    )
    assert (await client.get(path, headers={HEADER: for_chat})).status_code == 401


async def test_the_engines_attachment_is_recorded_and_announced(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await _user(sessions, "owner", "teacher")
    course, room = await _room(sessions, owner)
    rooms = app.state.rooms
    attached = RoomWorkflowAttachedV1(
        producer="workflow-engine",
        data=RoomWorkflowAttachedData(room_id=room, workflow_id="wf-9", attached_by=owner),
    )
    assert await rooms.on_workflow_attached(attached) is True
    assert await rooms.on_workflow_attached(attached) is False  # a redelivery changes nothing

    stored = await PostgresRoomStore(sessions, lambda: None).get(room)
    assert stored is not None
    assert (stored.settings.attached_workflow_id, stored.settings.attached_by) == ("wf-9", owner)
    async with sessions() as session:
        rows = await session.execute(
            select(outbox.c.payload).where(outbox.c.subject == f"gateway.room.{room}.changed.v1")
        )
        payloads = [json.loads(p) if isinstance(p, str) else p for (p,) in rows]
    assert [(p["data"]["attached_workflow_id"], p["data"]["attached_by"]) for p in payloads] == [
        ("wf-9", owner)
    ]
    assert payloads[0]["data"]["course_id"] == course
