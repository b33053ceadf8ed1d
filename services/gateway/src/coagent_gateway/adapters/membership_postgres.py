"""PostgreSQL adapters of courses, announcements, rooms and the user directory.

Membership writes and their ``MembershipChangedV1`` events commit in one transaction; the relay
is woken after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.envelope import Event
from coagent_gateway.adapters.postgres import (
    announcements,
    course_members,
    courses,
    outbox,
    room_members,
    rooms,
    users,
)
from coagent_gateway.courses.domain import (
    Announcement,
    Course,
    CourseMember,
    MembershipChange,
    membership_events,
)
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.rooms.domain import Room, RoomAccess, RoomSettings, room_changed
from coagent_kit.outbox import add_event

Sessions = async_sessionmaker[AsyncSession]


def _user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        username=row.username,
        platform_role=PlatformRole(row.platform_role),
        full_name=row.full_name,
        is_active=row.is_active,
        avatar_url=row.avatar_url,
    )


class PostgresUserDirectory:
    """Read-only user lookups for enrolment and assignment."""

    _COLUMNS = (
        users.c.id,
        users.c.email,
        users.c.username,
        users.c.platform_role,
        users.c.full_name,
        users.c.is_active,
        users.c.avatar_url,
    )

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get(self, user_id: str) -> User | None:
        async with self._sessions() as session:
            row = (
                await session.execute(select(*self._COLUMNS).where(users.c.id == user_id))
            ).first()
        return _user(row) if row else None

    async def find_by_email(self, email: str) -> User | None:
        query = select(*self._COLUMNS).where(func.lower(users.c.email) == email.lower())
        async with self._sessions() as session:
            row = (await session.execute(query)).first()
        return _user(row) if row else None


_COURSE = select(courses, users.c.full_name.label("owner_name")).outerjoin(
    users, users.c.id == courses.c.owner_id
)


def _course(row: Any) -> Course:
    return Course(row.id, row.title, row.description, row.owner_id, row.created_at, row.owner_name)


class PostgresCourseStore:
    """Courses, enrolments and announcements."""

    def __init__(self, sessions: Sessions, on_commit: Callable[[], None]) -> None:
        self._sessions = sessions
        self._on_commit = on_commit

    async def create(self, course: Course) -> Course:
        async with self._sessions() as session, session.begin():
            await session.execute(
                courses.insert().values(
                    id=course.id,
                    title=course.title,
                    description=course.description,
                    owner_id=course.owner_id,
                    created_at=course.created_at,
                )
            )
            if course.owner_id:
                await session.execute(
                    course_members.insert().values(
                        course_id=course.id, user_id=course.owner_id, role="teacher"
                    )
                )
        found = await self.get(course.id)
        assert found is not None
        return found

    async def get(self, course_id: str) -> Course | None:
        async with self._sessions() as session:
            row = (await session.execute(_COURSE.where(courses.c.id == course_id))).first()
        return _course(row) if row else None

    async def list_for(self, member_id: str | None) -> list[Course]:
        query = _COURSE.order_by(courses.c.created_at.desc(), courses.c.id)
        if member_id is not None:
            enrolled = select(course_members.c.course_id).where(
                course_members.c.user_id == member_id
            )
            query = query.where((courses.c.owner_id == member_id) | courses.c.id.in_(enrolled))
        async with self._sessions() as session:
            return [_course(r) for r in await session.execute(query)]

    async def update(self, course_id: str, title: str, description: str | None) -> Course | None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(courses)
                .where(courses.c.id == course_id)
                .values(title=title, description=description)
            )
        return await self.get(course_id)

    async def delete(self, course_id: str) -> bool:
        in_course = select(rooms).where(rooms.c.course_id == course_id).with_for_update()
        async with self._sessions() as session, session.begin():
            # Locked: a room created in the course meanwhile waits and then fails on the
            # missing course, so every room that goes with the course is announced.
            gone = [_room(row) for row in await session.execute(in_course)]
            changed = _changed(
                await session.execute(delete(courses).where(courses.c.id == course_id))
            )
            if changed:
                for room in gone:
                    deleted = room_changed(room.id, course_id, room.settings, deleted=True)
                    await add_event(session, outbox, deleted)
        if changed and gone:
            self._on_commit()
        return changed

    async def role_of(self, course_id: str, user_id: str) -> str | None:
        query = select(course_members.c.role).where(
            course_members.c.course_id == course_id, course_members.c.user_id == user_id
        )
        async with self._sessions() as session:
            role: str | None = await session.scalar(query)
        return role

    async def members(self, course_id: str) -> list[CourseMember]:
        order = func.array_position(["teacher", "ta", "student"], course_members.c.role)
        query = (
            select(
                users.c.id,
                users.c.email,
                users.c.full_name,
                users.c.avatar_url,
                course_members.c.role,
            )
            .join(users, users.c.id == course_members.c.user_id)
            .where(course_members.c.course_id == course_id)
            .order_by(order, users.c.email)
        )
        async with self._sessions() as session:
            rows = await session.execute(query)
            return [CourseMember(r.id, r.email, r.full_name, r.avatar_url, r.role) for r in rows]

    async def apply(self, change: MembershipChange) -> None:
        key = (
            course_members.c.course_id == change.course_id,
            course_members.c.user_id == change.user_id,
        )
        async with self._sessions() as session, session.begin():
            room_ids = list(
                await session.scalars(
                    select(rooms.c.id).where(rooms.c.course_id == change.course_id)
                )
            )
            if change.role is None:
                await session.execute(delete(course_members).where(*key))
                await session.execute(
                    delete(room_members).where(
                        room_members.c.user_id == change.user_id,
                        room_members.c.room_id.in_(room_ids),
                    )
                )
            else:
                await session.execute(
                    insert(course_members)
                    .values(course_id=change.course_id, user_id=change.user_id, role=change.role)
                    .on_conflict_do_update(
                        index_elements=[course_members.c.course_id, course_members.c.user_id],
                        set_={"role": change.role},
                    )
                )
            await _publish(session, membership_events(change, room_ids))
        self._on_commit()

    async def add_announcement(self, announcement: Announcement) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                announcements.insert().values(
                    id=announcement.id,
                    course_id=announcement.course_id,
                    title=announcement.title,
                    content=announcement.content,
                    author_id=announcement.author_id,
                    created_at=announcement.created_at,
                )
            )

    async def announcements(self, course_id: str) -> list[Announcement]:
        query = (
            select(announcements)
            .where(announcements.c.course_id == course_id)
            .order_by(announcements.c.created_at.desc(), announcements.c.id)
        )
        async with self._sessions() as session:
            return [
                Announcement(r.id, r.course_id, r.title, r.content, r.author_id, r.created_at)
                for r in await session.execute(query)
            ]


def _changed(result: object) -> bool:
    """Whether a DML statement touched a row."""
    return isinstance(result, CursorResult) and result.rowcount > 0


async def _publish(session: AsyncSession, events: Sequence[Event]) -> None:
    for event in events:
        await add_event(session, outbox, event)


def _settings_values(settings: RoomSettings) -> dict[str, object]:
    return {
        "name": settings.name,
        "description": settings.description,
        "is_ai_active": settings.is_ai_active,
        "ai_frequency": settings.ai_frequency,
        "ai_mode": settings.ai_mode,
        "is_analytics_active": settings.is_analytics_active,
        "attached_workflow_id": settings.attached_workflow_id,
        "attached_by": settings.attached_by,
    }


def _room(row: Any, member_ids: frozenset[str] = frozenset()) -> Room:
    settings = RoomSettings(
        name=row.name,
        description=row.description,
        is_ai_active=row.is_ai_active,
        ai_frequency=row.ai_frequency,
        ai_mode=row.ai_mode,
        is_analytics_active=row.is_analytics_active,
        attached_workflow_id=row.attached_workflow_id,
        attached_by=row.attached_by,
    )
    return Room(row.id, row.course_id, settings, row.created_at, member_ids)


class PostgresRoomStore:
    """Rooms and room assignments."""

    def __init__(self, sessions: Sessions, on_commit: Callable[[], None]) -> None:
        self._sessions = sessions
        self._on_commit = on_commit

    async def create(self, room: Room, event: Event | None = None) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                rooms.insert().values(
                    id=room.id,
                    course_id=room.course_id,
                    created_at=room.created_at,
                    **_settings_values(room.settings),
                )
            )
            await _publish(session, [] if event is None else [event])
        if event is not None:
            self._on_commit()

    async def get(self, room_id: str) -> Room | None:
        async with self._sessions() as session:
            row = (await session.execute(select(rooms).where(rooms.c.id == room_id))).first()
            if row is None:
                return None
            members = await session.scalars(
                select(room_members.c.user_id).where(room_members.c.room_id == room_id)
            )
            return _room(row, frozenset(members))

    async def access(self, room_id: str, user_id: str) -> RoomAccess | None:
        role = (
            select(course_members.c.role)
            .where(
                course_members.c.course_id == rooms.c.course_id,
                course_members.c.user_id == user_id,
            )
            .scalar_subquery()
        )
        query = (
            select(
                rooms,
                courses.c.title,
                courses.c.description.label("course_description"),
                courses.c.owner_id,
                courses.c.created_at.label("course_created_at"),
                users.c.full_name.label("owner_name"),
                role.label("role"),
            )
            .join(courses, courses.c.id == rooms.c.course_id)
            .outerjoin(users, users.c.id == courses.c.owner_id)
            .where(rooms.c.id == room_id)
        )
        async with self._sessions() as session:
            row = (await session.execute(query)).first()
        if row is None:
            return None
        course = Course(
            row.course_id,
            row.title,
            row.course_description,
            row.owner_id,
            row.course_created_at,
            row.owner_name,
        )
        return RoomAccess(_room(row), course, row.role)

    async def in_course(self, course_id: str) -> list[Room]:
        query = select(rooms).where(rooms.c.course_id == course_id)
        async with self._sessions() as session:
            rows = await session.execute(query.order_by(rooms.c.created_at, rooms.c.id))
            return [_room(r) for r in rows]

    async def update(
        self, room_id: str, settings: RoomSettings, event: Event | None = None
    ) -> Room | None:
        statement = update(rooms).where(rooms.c.id == room_id).values(**_settings_values(settings))
        if event is None:
            async with self._sessions() as session, session.begin():
                await session.execute(statement)
        else:
            await self._write(statement, event)
        return await self.get(room_id)

    async def delete(self, room_id: str, event: Event | None = None) -> bool:
        statement = delete(rooms).where(rooms.c.id == room_id)
        if event is not None:
            return await self._write(statement, event)
        async with self._sessions() as session, session.begin():
            result = await session.execute(statement)
        return _changed(result)

    async def assign(self, room_id: str, user_id: str, event: Event) -> bool:
        row = {"room_id": room_id, "user_id": user_id, "role": "member"}
        statement = insert(room_members).values(**row).on_conflict_do_nothing()
        return await self._write(statement, event)

    async def unassign(self, room_id: str, user_id: str, event: Event) -> bool:
        statement = delete(room_members).where(
            room_members.c.room_id == room_id, room_members.c.user_id == user_id
        )
        return await self._write(statement, event)

    async def _write(self, statement: Any, event: Event) -> bool:
        """Run ``statement``; queue ``event`` with it only if it changed a row."""
        async with self._sessions() as session, session.begin():
            changed = _changed(await session.execute(statement))
            if changed:
                await add_event(session, outbox, event)
        if changed:
            self._on_commit()
        return changed
