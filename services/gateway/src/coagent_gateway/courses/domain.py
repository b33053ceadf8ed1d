"""Courses, course members and announcements: pure types, errors and membership events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from coagent_contracts.gateway import MembershipChangedData, MembershipChangedV1
from coagent_contracts.gateway import MembershipChangeKind as ChangeKind
from coagent_gateway.policy import Kind, Resource
from coagent_kit.errors import BadRequest, NotFound, Unprocessable

CourseRole = Literal["teacher", "ta", "student"]
PRODUCER = "gateway"


class CourseNotFound(NotFound):
    # Also raised for courses the caller may not see: their existence is not revealed.
    code = "course_not_found"


class UserNotFound(NotFound):
    code = "user_not_found"


class MemberNotFound(NotFound):
    code = "member_not_found"


class OwnerProtected(BadRequest):
    code = "course_owner_protected"


class MissingUserReference(Unprocessable):
    code = "user_reference_required"


@dataclass(frozen=True)
class Course:
    """A course; its owner is also enrolled as a teacher."""

    id: str
    title: str
    description: str | None
    owner_id: str | None
    created_at: datetime
    owner_name: str | None = None

    def resource(self, membership: str | None) -> Resource:
        """The policy's view of this course for a caller with ``membership``."""
        return Resource(Kind.COURSE, self.id, owner_id=self.owner_id, membership=membership)


@dataclass(frozen=True)
class CourseMember:
    """An enrolled user with their course role."""

    user_id: str
    email: str
    full_name: str | None
    avatar_url: str | None
    role: str


@dataclass(frozen=True)
class Announcement:
    """A message from a course's staff to its members."""

    id: str
    course_id: str
    title: str
    content: str
    author_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class MembershipChange:
    """A user's course membership changed; ``role`` is None when they were removed."""

    course_id: str
    user_id: str
    change: ChangeKind
    role: str | None


def membership_events(
    change: MembershipChange, room_ids: Iterable[str]
) -> list[MembershipChangedV1]:
    """One room-scoped event per room of the course: room membership follows the course."""
    return [
        MembershipChangedV1(
            producer=PRODUCER,
            data=MembershipChangedData(
                room_id=room_id,
                user_id=change.user_id,
                change=change.change,
                role=change.role,
                course_id=change.course_id,
            ),
        )
        for room_id in room_ids
    ]
