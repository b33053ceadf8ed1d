"""The membership Postgres adapters against the real server (migrated to head)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.envelope import utc_now
from coagent_contracts.gateway import MembershipChangedData, MembershipChangedV1, RoomChangedV1
from coagent_gateway.adapters.membership_postgres import (
    PostgresCourseStore,
    PostgresRoomStore,
    PostgresUserDirectory,
)
from coagent_gateway.adapters.organizations_postgres import PostgresOrganizationStore
from coagent_gateway.adapters.postgres import outbox, users
from coagent_gateway.courses.domain import Announcement, Course, MembershipChange
from coagent_gateway.organizations.domain import Organization, Project
from coagent_gateway.rooms.domain import Room, RoomSettings

pytestmark = pytest.mark.integration


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def _user(sessions: async_sessionmaker[AsyncSession], name: str) -> str:
    user_id = str(uuid.uuid4())
    async with sessions() as session, session.begin():
        await session.execute(
            users.insert().values(
                id=user_id,
                email=f"{name}-{user_id[:8]}@Example.org",
                username=f"{name}-{user_id[:8]}",
                hashed_password="h",
                platform_role="student",
                full_name=name.title(),
            )
        )
    return user_id


async def _events_for(sessions: async_sessionmaker[AsyncSession], user_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(select(outbox.c.payload).order_by(outbox.c.created_at))
        payloads = [str(p) for (p,) in rows]
    return [p for p in payloads if user_id in p]


async def test_user_directory_matches_email_case_insensitively(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    user_id = await _user(sessions, "ada")
    directory = PostgresUserDirectory(sessions)
    found = await directory.get(user_id)
    assert found is not None
    by_email = await directory.find_by_email(found.email.upper())
    assert by_email is not None
    assert by_email.id == user_id
    assert await directory.get("missing") is None


async def test_courses_members_rooms_and_events(sessions: async_sessionmaker[AsyncSession]) -> None:
    wakes = Wakes()
    courses, rooms = PostgresCourseStore(sessions, wakes), PostgresRoomStore(sessions, wakes)
    owner, student = await _user(sessions, "tess"), await _user(sessions, "stu")
    course = await courses.create(Course(str(uuid.uuid4()), "Algebra", None, owner, utc_now()))
    assert course.owner_name == "Tess"
    assert await courses.role_of(course.id, owner) == "teacher"
    room = Room(str(uuid.uuid4()), course.id, RoomSettings(name="Lab"), utc_now())
    await rooms.create(room)

    await courses.apply(MembershipChange(course.id, student, "added", "student"))
    assert [c.id for c in await courses.list_for(student)] == [course.id]
    assert [m.role for m in await courses.members(course.id)] == ["teacher", "student"]
    assert len(await _events_for(sessions, student)) == 1
    assert wakes.count == 1

    event = MembershipChangedV1(
        producer="gateway",
        data=MembershipChangedData(
            room_id=room.id, user_id=student, change="added", role="student", course_id=course.id
        ),
    )
    assert await rooms.assign(room.id, student, event) is True
    assert await rooms.assign(room.id, student, event) is False
    stored = await rooms.get(room.id)
    assert stored is not None
    assert stored.member_ids == {student}

    await courses.apply(MembershipChange(course.id, student, "role_changed", "ta"))
    assert await courses.role_of(course.id, student) == "ta"
    await courses.apply(MembershipChange(course.id, student, "removed", None))
    assert await courses.role_of(course.id, student) is None
    after = await rooms.get(room.id)
    assert after is not None
    assert after.member_ids == frozenset()  # leaving the course leaves its rooms
    assert len(await _events_for(sessions, student)) == 4


async def test_room_access_reads_room_course_and_role_together(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    courses, rooms = PostgresCourseStore(sessions, Wakes()), PostgresRoomStore(sessions, Wakes())
    owner, student, outsider = [await _user(sessions, n) for n in ("tess", "stu", "out")]
    course = await courses.create(Course(str(uuid.uuid4()), "Chem", "labs", owner, utc_now()))
    settings = RoomSettings(name="Lab", description="bench work", attached_workflow_id="wf1")
    room = Room(str(uuid.uuid4()), course.id, settings, utc_now())
    await rooms.create(room)
    await courses.apply(MembershipChange(course.id, student, "added", "student"))

    access = await rooms.access(room.id, student)
    assert access is not None
    assert (access.room.id, access.room.course_id, access.room.settings) == (
        room.id,
        course.id,
        settings,
    )
    assert (access.course.title, access.course.description) == ("Chem", "labs")
    assert (access.course.owner_id, access.course.owner_name) == (owner, "Tess")
    assert access.role == "student"
    assert (await rooms.access(room.id, owner)).role == "teacher"  # type: ignore[union-attr]
    assert (await rooms.access(room.id, outsider)).role is None  # type: ignore[union-attr]
    assert await rooms.access("missing", student) is None


async def test_room_settings_and_cascading_deletes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    courses, rooms = PostgresCourseStore(sessions, Wakes()), PostgresRoomStore(sessions, Wakes())
    owner = await _user(sessions, "tess")
    course = await courses.create(Course(str(uuid.uuid4()), "Bio", "d", owner, utc_now()))
    base = datetime.now(UTC)
    first = Room(str(uuid.uuid4()), course.id, RoomSettings(name="A"), base)
    second = Room(str(uuid.uuid4()), course.id, RoomSettings(name="B"), base + timedelta(1))
    for room in (second, first):
        await rooms.create(room)
    assert [r.settings.name for r in await rooms.in_course(course.id)] == ["A", "B"]
    settings = RoomSettings(name="A2", ai_frequency=0.9, attached_workflow_id="wf")
    updated = await rooms.update(first.id, settings)
    assert updated is not None
    assert updated.settings == settings
    assert await rooms.update("missing", settings) is None
    assert await rooms.delete(second.id) is True
    assert await rooms.delete(second.id) is False

    note = Announcement(str(uuid.uuid4()), course.id, "Hi", "there", owner, utc_now())
    await courses.add_announcement(note)
    assert [a.title for a in await courses.announcements(course.id)] == ["Hi"]
    renamed = await courses.update(course.id, "Biology", None)
    assert renamed is not None
    assert (renamed.title, renamed.description) == ("Biology", None)
    assert await courses.delete(course.id) is True
    assert await rooms.get(first.id) is None
    assert await courses.announcements(course.id) == []
    assert await courses.get(course.id) is None


async def test_deleting_a_course_announces_each_of_its_rooms_as_deleted(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    wakes = Wakes()
    courses, rooms = PostgresCourseStore(sessions, wakes), PostgresRoomStore(sessions, Wakes())
    owner = await _user(sessions, "dora")
    course = await courses.create(Course(str(uuid.uuid4()), "Chem", None, owner, utc_now()))
    other = await courses.create(Course(str(uuid.uuid4()), "Art", None, owner, utc_now()))
    kept = Room(str(uuid.uuid4()), other.id, RoomSettings(name="K"), datetime.now(UTC))
    doomed = [
        Room(str(uuid.uuid4()), course.id, RoomSettings(name=n, attached_workflow_id="wf"), t)
        for n, t in (("A", datetime.now(UTC)), ("B", datetime.now(UTC)))
    ]
    for room in (*doomed, kept):
        await rooms.create(room)

    assert await courses.delete(course.id) is True

    async with sessions() as session:
        rows = await session.execute(select(outbox.c.payload).order_by(outbox.c.created_at))
        events = [json.loads(p) for (p,) in rows]
    announced = [
        RoomChangedV1.model_validate(e)
        for e in events
        if e["type"] == "gateway.room.changed" and e["data"]["course_id"] == course.id
    ]
    assert sorted(e.data.room_id for e in announced) == sorted(r.id for r in doomed)
    assert all(e.data.deleted and e.data.attached_workflow_id == "wf" for e in announced)
    assert wakes.count >= 1
    assert await rooms.get(kept.id) is not None
    assert await courses.delete(course.id) is False


async def test_organizations_and_projects(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = PostgresOrganizationStore(sessions)
    owner, other = await _user(sessions, "olga"), await _user(sessions, "pete")
    org = Organization(str(uuid.uuid4()), "Acme", None, owner, utc_now())
    await store.create_organization(org, owner)
    assert await store.organization_role(org.id, owner) == "owner"
    assert await store.organization_role(org.id, other) is None
    assert [o.id for o in await store.list_organizations(owner)] == [org.id]
    assert await store.list_organizations(other) == []
    assert org.id in {o.id for o in await store.list_organizations(None)}
    project = Project(str(uuid.uuid4()), org.id, "P", "d", utc_now())
    await store.create_project(project, owner)
    assert await store.project_role(project.id, owner) == "owner"
    assert [p.id for p in await store.list_projects(owner, org.id)] == [project.id]
    assert await store.list_projects(owner, "other-org") == []
    assert await store.list_projects(other, None) == []
    got = await store.get_project(project.id)
    assert got is not None
    assert got.name == "P"
