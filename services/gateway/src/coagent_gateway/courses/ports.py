"""What the course feature needs from storage."""

from __future__ import annotations

from typing import Protocol

from coagent_gateway.courses.domain import Announcement, Course, CourseMember, MembershipChange
from coagent_gateway.domain import User


class UserDirectory(Protocol):
    """Read-only lookups of users (for enrolment and assignment)."""

    async def get(self, user_id: str) -> User | None:
        """The user with id ``user_id``."""
        ...

    async def find_by_email(self, email: str) -> User | None:
        """The user whose email matches ``email`` case-insensitively."""
        ...


class CourseStore(Protocol):
    """Courses, enrolments and announcements.

    Every membership write queues its ``MembershipChangedV1`` events (one per room of the course)
    in the same transaction.
    """

    async def create(self, course: Course) -> Course:
        """Insert ``course`` and enrol its owner as a teacher."""
        ...

    async def get(self, course_id: str) -> Course | None:
        """The course with its owner's name, or None."""
        ...

    async def list_for(self, member_id: str | None) -> list[Course]:
        """Courses ``member_id`` owns or is enrolled in (every course when None), newest first."""
        ...

    async def update(self, course_id: str, title: str, description: str | None) -> Course | None:
        """Change title and description; None if the course is gone."""
        ...

    async def delete(self, course_id: str) -> bool:
        """Delete the course with its rooms, members and announcements; a ``RoomChangedV1``
        (``deleted``) for each of its rooms is queued in the same transaction, so the services
        keeping a projection of rooms (and their data) learn that the rooms are gone."""
        ...

    async def role_of(self, course_id: str, user_id: str) -> str | None:
        """``user_id``'s course role, None when not enrolled."""
        ...

    async def members(self, course_id: str) -> list[CourseMember]:
        """Everyone enrolled, teachers first."""
        ...

    async def apply(self, change: MembershipChange) -> None:
        """Enrol, change the role of, or remove a member, with its events."""
        ...

    async def add_announcement(self, announcement: Announcement) -> None:
        """Store an announcement."""
        ...

    async def announcements(self, course_id: str) -> list[Announcement]:
        """The course's announcements, newest first."""
        ...
