"""Rooms: pure types and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from coagent_contracts.gateway import RoomChangedData, RoomChangedV1
from coagent_gateway.courses.domain import PRODUCER, Course
from coagent_gateway.policy import Kind, Resource
from coagent_kit.errors import Conflict, NotFound

AiMode = Literal["off", "teacher_only", "both"]


class RoomNotFound(NotFound):
    # Also raised for rooms the caller may not see: their existence is not revealed.
    code = "room_not_found"


class NotACourseMember(Conflict):
    code = "not_a_course_member"


@dataclass(frozen=True)
class RoomSettings:
    """What staff may change on a room."""

    name: str
    description: str | None = None
    is_ai_active: bool = True
    ai_frequency: float = 0.5
    ai_mode: AiMode = "teacher_only"
    is_analytics_active: bool = False
    attached_workflow_id: str | None = None
    #: Who attached the workflow (set by the service from the caller, never by the client): the
    #: room's fallback runs with their authority.
    attached_by: str | None = None


@dataclass(frozen=True)
class Room:
    """A chat room of a course; course membership is what opens it."""

    id: str
    course_id: str
    settings: RoomSettings
    created_at: datetime
    member_ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class RoomAccess:
    """A room, its course and the caller's course role (None for admins who are not enrolled)."""

    room: Room
    course: Course
    role: str | None

    @property
    def resource(self) -> Resource:
        """The policy's view of the room for this caller."""
        return Resource(
            Kind.ROOM, self.room.id, owner_id=self.course.owner_id, membership=self.role
        )

    def forwarded_role(self, user_id: str) -> str | None:
        """The ``resource_role`` to send the owning service: ``"owner"`` for the course owner.

        Services have no membership tables; they tell course staff (``owner``, ``teacher``,
        ``ta``) from the rest by this role alone, and the owner may not be enrolled at all.
        """
        return forwarded_role(self.course.owner_id, self.role, user_id)


def attach_changes(
    current: RoomSettings, changes: dict[str, object], user_id: str
) -> dict[str, object]:
    """``changes`` plus the attacher: whoever sets a (different) workflow becomes it; clearing
    the workflow clears it too."""
    if "attached_workflow_id" not in changes:
        return changes
    workflow_id = changes["attached_workflow_id"]
    if workflow_id is None:
        return {**changes, "attached_by": None}
    if workflow_id == current.attached_workflow_id and current.attached_by is not None:
        return changes
    return {**changes, "attached_by": user_id}


def forwarded_role(owner_id: str | None, role: str | None, user_id: str) -> str | None:
    """``"owner"`` when ``user_id`` owns the course, else the course ``role`` (None if none)."""
    return "owner" if owner_id is not None and owner_id == user_id else role


def room_changed(
    room_id: str, course_id: str, settings: RoomSettings, *, deleted: bool = False
) -> RoomChangedV1:
    """The room's state after a change, for the services that keep a projection of rooms."""
    return RoomChangedV1(
        producer=PRODUCER,
        data=RoomChangedData(
            room_id=room_id,
            course_id=course_id,
            attached_workflow_id=settings.attached_workflow_id,
            attached_by=settings.attached_by,
            deleted=deleted,
        ),
    )
