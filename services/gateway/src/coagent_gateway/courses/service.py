"""Course use cases: every decision goes through :mod:`coagent_gateway.policy`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from coagent_contracts.envelope import utc_now
from coagent_gateway.auth.ports import AuditLog
from coagent_gateway.courses.domain import (
    Announcement,
    Course,
    CourseMember,
    CourseNotFound,
    CourseRole,
    MemberNotFound,
    MembershipChange,
    MissingUserReference,
    OwnerProtected,
    UserNotFound,
)
from coagent_gateway.courses.ports import CourseStore, UserDirectory
from coagent_gateway.domain import User
from coagent_gateway.policy import ADMIN_ROLES, Action, can, may_assign_course_role, require
from coagent_kit.errors import Forbidden


@dataclass(frozen=True)
class CourseView:
    """A course with the caller's role in it (None: not enrolled, e.g. an admin)."""

    course: Course
    role: str | None


class CourseService:
    """Courses, enrolments and announcements for an authenticated caller."""

    def __init__(self, courses: CourseStore, users: UserDirectory, audit: AuditLog) -> None:
        self._courses = courses
        self._users = users
        self._audit = audit

    async def _apply(self, actor: User, change: MembershipChange) -> None:
        """Store a membership change (with its events) and audit it."""
        await self._courses.apply(change)
        await self._audit.record(
            f"course.member.{change.change}",
            actor_id=actor.id,
            subject_id=change.user_id,
            details={"course_id": change.course_id, "role": change.role},
        )

    async def view(
        self, user: User, course_id: str, action: Action = Action.COURSE_READ
    ) -> CourseView:
        """The course if ``user`` may see it (404 otherwise) and take ``action`` on it (403)."""
        course = await self._courses.get(course_id)
        if course is None:
            raise CourseNotFound("Course not found")
        role = await self._courses.role_of(course_id, user.id)
        resource = course.resource(role)
        if not can(user, Action.COURSE_READ, resource):
            raise CourseNotFound("Course not found")
        require(user, action, resource)
        return CourseView(course, role)

    async def access_of(
        self, course_id: str, user_id: str
    ) -> tuple[CourseView | None, User | None]:
        """The course (with ``user_id``'s course role) and the user, for services that ask
        whether someone may act on a course; either is None when it does not exist."""
        course = await self._courses.get(course_id)
        user = await self._users.get(user_id)
        if course is None:
            return None, user
        return CourseView(course, await self._courses.role_of(course_id, user_id)), user

    async def visible(self, user: User) -> list[Course]:
        """Admins see every course; others those they own or are enrolled in."""
        return await self._courses.list_for(None if user.platform_role in ADMIN_ROLES else user.id)

    async def create(self, user: User, title: str, description: str | None) -> Course:
        require(user, Action.COURSE_CREATE)
        course = Course(str(uuid.uuid4()), title, description, user.id, utc_now(), user.full_name)
        return await self._courses.create(course)

    async def update(
        self, user: User, course_id: str, title: str, description: str | None
    ) -> Course:
        await self.view(user, course_id, Action.COURSE_UPDATE)
        course = await self._courses.update(course_id, title, description)
        if course is None:
            raise CourseNotFound("Course not found")
        return course

    async def delete(self, user: User, course_id: str) -> None:
        await self.view(user, course_id, Action.COURSE_DELETE)
        await self._courses.delete(course_id)

    async def members(self, user: User, course_id: str) -> list[CourseMember]:
        await self.view(user, course_id, Action.COURSE_MEMBERS_READ)
        return await self._courses.members(course_id)

    async def find_user(self, user_id: str | None, email: str | None) -> User:
        """The user named by id (preferred) or email (case-insensitive); 404/422 otherwise."""
        if user_id:
            found = await self._users.get(user_id)
        elif email:
            found = await self._users.find_by_email(email.strip())
        else:
            raise MissingUserReference("Give user_id or user_email")
        if found is None:
            raise UserNotFound("User not found")
        return found

    async def enroll(
        self,
        user: User,
        course_id: str,
        role: CourseRole,
        *,
        user_id: str | None = None,
        email: str | None = None,
    ) -> tuple[User, bool]:
        """Enrol someone; (the user, False) if they already were (their role is unchanged)."""
        view = await self.view(user, course_id, Action.COURSE_MEMBERS_MANAGE)
        target = await self.find_user(user_id, email)
        if await self._courses.role_of(course_id, target.id) is not None:
            return target, False
        if not may_assign_course_role(user, view.course.resource(view.role), None, role):
            raise Forbidden(f"You may not enrol members as {role}", code="forbidden")
        await self._apply(user, MembershipChange(course_id, target.id, "added", role))
        return target, True

    async def _managed_member(
        self, user: User, course_id: str, member_id: str
    ) -> tuple[CourseView, str]:
        view = await self.view(user, course_id, Action.COURSE_MEMBERS_MANAGE)
        current = await self._courses.role_of(course_id, member_id)
        if current is None:
            raise MemberNotFound("User is not enrolled in this course")
        if member_id == view.course.owner_id:
            raise OwnerProtected("The course owner's membership cannot be changed")
        return view, current

    async def change_role(
        self, user: User, course_id: str, member_id: str, role: CourseRole
    ) -> None:
        view, current = await self._managed_member(user, course_id, member_id)
        if not may_assign_course_role(user, view.course.resource(view.role), current, role):
            raise Forbidden("You may not give or take this course role", code="forbidden")
        if current != role:
            await self._apply(user, MembershipChange(course_id, member_id, "role_changed", role))

    async def remove(self, user: User, course_id: str, member_id: str) -> None:
        view, current = await self._managed_member(user, course_id, member_id)
        # Whoever may set this member's role to "student" manages them (TAs: students only).
        if not may_assign_course_role(user, view.course.resource(view.role), current, "student"):
            raise Forbidden("You may not remove this member", code="forbidden")
        await self._apply(user, MembershipChange(course_id, member_id, "removed", None))

    async def announcements(self, user: User, course_id: str) -> list[Announcement]:
        await self.view(user, course_id, Action.ANNOUNCEMENT_READ)
        return await self._courses.announcements(course_id)

    async def announce(self, user: User, course_id: str, title: str, content: str) -> Announcement:
        await self.view(user, course_id, Action.ANNOUNCEMENT_CREATE)
        announcement = Announcement(
            str(uuid.uuid4()), course_id, title, content, user.id, utc_now()
        )
        await self._courses.add_announcement(announcement)
        return announcement
