"""Room use cases and :meth:`RoomService.room_access`, the check behind every room-scoped route.

A room is open to whoever may read its course (policy: course membership, course owner, admins).
Other gateway code reaches the check as ``request.app.state.room_access(user, room_id)``.
"""

from __future__ import annotations

import dataclasses
import uuid

from coagent_contracts.envelope import utc_now
from coagent_contracts.gateway import (
    MembershipChangedData,
    MembershipChangedV1,
    MembershipChangeKind,
)
from coagent_gateway.auth.ports import AuditLog
from coagent_gateway.courses.domain import PRODUCER
from coagent_gateway.courses.ports import CourseStore
from coagent_gateway.courses.service import CourseService
from coagent_gateway.domain import User
from coagent_gateway.policy import Action, can, require
from coagent_gateway.rooms.domain import (
    NotACourseMember,
    Room,
    RoomAccess,
    RoomNotFound,
    RoomSettings,
)
from coagent_gateway.rooms.ports import RoomStore
from coagent_kit.errors import NotFound


class RoomService:
    """Rooms for an authenticated caller."""

    def __init__(
        self,
        rooms: RoomStore,
        courses: CourseStore,
        course_service: CourseService,
        audit: AuditLog,
    ) -> None:
        self._rooms = rooms
        self._courses = courses
        self._course_service = course_service
        self._audit = audit

    async def room_access(
        self, user: User, room_id: str, action: Action = Action.ROOM_READ
    ) -> RoomAccess:
        """The room, its course and the caller's course role.

        404 ``room_not_found`` when the room does not exist or the caller may not read it (its
        existence is not revealed); 403 ``forbidden`` when they may read it but not take ``action``.
        """
        access = await self._rooms.access(room_id, user.id)
        if access is None:
            raise RoomNotFound("Room not found")
        if not can(user, Action.ROOM_READ, access.resource):
            raise RoomNotFound("Room not found")
        require(user, action, access.resource)
        return access

    async def in_course(self, user: User, course_id: str) -> list[Room]:
        await self._course_service.view(user, course_id, Action.ROOM_READ)
        return await self._rooms.in_course(course_id)

    async def create(self, user: User, course_id: str, settings: RoomSettings) -> Room:
        await self._course_service.view(user, course_id, Action.ROOM_CREATE)
        room = Room(str(uuid.uuid4()), course_id, settings, utc_now())
        await self._rooms.create(room)
        return room

    async def update(self, user: User, room_id: str, changes: dict[str, object]) -> Room:
        """Apply the given settings fields (the others keep their values)."""
        access = await self.room_access(user, room_id, Action.ROOM_UPDATE)
        settings = dataclasses.replace(access.room.settings, **changes)  # type: ignore[arg-type]
        room = await self._rooms.update(room_id, settings)
        if room is None:
            raise RoomNotFound("Room not found")
        return room

    async def delete(self, user: User, room_id: str) -> None:
        await self.room_access(user, room_id, Action.ROOM_DELETE)
        await self._rooms.delete(room_id)

    async def assign(
        self, user: User, room_id: str, *, user_id: str | None = None, email: str | None = None
    ) -> tuple[User, bool]:
        """Assign a member of the room's course (409 ``not_a_course_member`` otherwise)."""
        access = await self.room_access(user, room_id, Action.ROOM_ASSIGN)
        target = await self._course_service.find_user(user_id, email)
        role = await self._courses.role_of(access.course.id, target.id)
        if role is None:
            raise NotACourseMember("Only members of the room's course can be assigned to it")
        added = await self._rooms.assign(
            room_id, target.id, _event(access, target.id, "added", role)
        )
        if added:
            await self._audit_room(user, access, target.id, "added")
        return target, added

    async def unassign(self, user: User, room_id: str, member_id: str) -> None:
        access = await self.room_access(user, room_id, Action.ROOM_ASSIGN)
        if not await self._rooms.unassign(
            room_id, member_id, _event(access, member_id, "removed", None)
        ):
            raise NotFound("User is not assigned to this room", code="member_not_found")
        await self._audit_room(user, access, member_id, "removed")

    async def _audit_room(
        self, actor: User, access: RoomAccess, member_id: str, change: str
    ) -> None:
        await self._audit.record(
            f"room.member.{change}",
            actor_id=actor.id,
            subject_id=member_id,
            details={"room_id": access.room.id, "course_id": access.course.id},
        )


def _event(
    access: RoomAccess, user_id: str, change: MembershipChangeKind, role: str | None
) -> MembershipChangedV1:
    return MembershipChangedV1(
        producer=PRODUCER,
        data=MembershipChangedData(
            room_id=access.room.id,
            user_id=user_id,
            change=change,
            role=role,
            course_id=access.course.id,
        ),
    )
