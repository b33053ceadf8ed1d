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
from coagent_contracts.workflow import RoomWorkflowAttachedV1
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
    attach_changes,
    room_changed,
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

    async def access_of(self, room_id: str, user_id: str) -> tuple[RoomAccess | None, User | None]:
        """The room (with ``user_id``'s course role) and the user, for services that ask whether
        someone may act on a room; either is None when it does not exist."""
        access = await self._rooms.access(room_id, user_id)
        try:
            user = await self._course_service.find_user(user_id, None)
        except NotFound:
            user = None
        return access, user

    async def in_course(self, user: User, course_id: str) -> list[Room]:
        await self._course_service.view(user, course_id, Action.ROOM_READ)
        return await self._rooms.in_course(course_id)

    async def create(self, user: User, course_id: str, settings: RoomSettings) -> Room:
        await self._course_service.view(user, course_id, Action.ROOM_CREATE)
        attacher = user.id if settings.attached_workflow_id else None
        settings = dataclasses.replace(settings, attached_by=attacher)
        room = Room(str(uuid.uuid4()), course_id, settings, utc_now())
        await self._rooms.create(room, room_changed(room.id, course_id, settings))
        return room

    async def update(self, user: User, room_id: str, changes: dict[str, object]) -> Room:
        """Apply the given settings fields (the others keep their values).

        Whoever attaches a workflow becomes its attacher: the room's fallback runs as them.
        """
        access = await self.room_access(user, room_id, Action.ROOM_UPDATE)
        current = access.room.settings
        changes = attach_changes(current, changes, user.id)
        settings = dataclasses.replace(current, **changes)  # type: ignore[arg-type]
        event = room_changed(room_id, access.room.course_id, settings)
        room = await self._rooms.update(room_id, settings, event)
        if room is None:
            raise RoomNotFound("Room not found")
        return room

    async def delete(self, user: User, room_id: str) -> None:
        access = await self.room_access(user, room_id, Action.ROOM_DELETE)
        room = access.room
        await self._rooms.delete(
            room_id, room_changed(room_id, room.course_id, room.settings, deleted=True)
        )

    async def on_workflow_attached(self, event: RoomWorkflowAttachedV1) -> bool:
        """Record the workflow the engine created for a room (``PUT /rooms/{id}/workflow``).

        The engine let only course staff or admins attach it; False when the room is gone or
        already shows that attachment (a redelivery).
        """
        data = event.data
        room = await self._rooms.get(data.room_id)
        if room is None:
            return False
        wanted = (data.workflow_id, data.attached_by)
        if (room.settings.attached_workflow_id, room.settings.attached_by) == wanted:
            return False
        settings = dataclasses.replace(
            room.settings, attached_workflow_id=data.workflow_id, attached_by=data.attached_by
        )
        changed = room_changed(room.id, room.course_id, settings)
        return await self._rooms.update(room.id, settings, changed) is not None

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
