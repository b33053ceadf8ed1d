"""``/api/v1/courses/*`` and ``/api/v1/announcements/*``.

A course the caller may not read answers 404 ``course_not_found`` (its existence is not
revealed); an action the caller may not take on a course they can see answers 403 ``forbidden``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.courses.schemas import (
    AnnouncementRead,
    AnnouncementWrite,
    CourseMemberRead,
    CourseRead,
    CourseWrite,
    EnrollmentRequest,
    MemberRoleUpdate,
    Message,
)
from coagent_gateway.courses.service import CourseService


def course_service(request: Request) -> CourseService:
    """The app's :class:`CourseService`."""
    service: CourseService = request.app.state.courses
    return service


Courses = Annotated[CourseService, Depends(course_service)]
CourseId = Annotated[str, Query(min_length=1, max_length=64)]

router = APIRouter(prefix="/api/v1/courses", tags=["courses"])
announcements_router = APIRouter(prefix="/api/v1/announcements", tags=["announcements"])


@router.get("/")
async def list_courses(user: CurrentUser, courses: Courses) -> list[CourseRead]:
    """Admins see every course; others the courses they own or are enrolled in."""
    return [CourseRead.of(c) for c in await courses.visible(user)]


@router.post("/", status_code=status.HTTP_201_CREATED)
async def create_course(body: CourseWrite, user: CurrentUser, courses: Courses) -> CourseRead:
    """Teachers and admins; the creator is enrolled as the course's teacher."""
    return CourseRead.of(await courses.create(user, body.title, body.description))


@router.get("/{course_id}")
async def get_course(course_id: str, user: CurrentUser, courses: Courses) -> CourseRead:
    return CourseRead.of((await courses.view(user, course_id)).course)


@router.put("/{course_id}")
async def update_course(
    course_id: str, body: CourseWrite, user: CurrentUser, courses: Courses
) -> CourseRead:
    return CourseRead.of(await courses.update(user, course_id, body.title, body.description))


@router.delete("/{course_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_course(course_id: str, user: CurrentUser, courses: Courses) -> None:
    await courses.delete(user, course_id)


@router.post("/{course_id}/enroll")
async def enroll(
    course_id: str, body: EnrollmentRequest, user: CurrentUser, courses: Courses
) -> Message:
    """Staff enrol users by id or email; TAs enrol students only."""
    target, added = await courses.enroll(
        user, course_id, body.role, user_id=body.user_id, email=body.user_email
    )
    if not added:
        return Message(message="User already enrolled")
    return Message(message=f"User {target.full_name or target.username} enrolled as {body.role}")


@router.get("/{course_id}/members")
async def list_members(
    course_id: str, user: CurrentUser, courses: Courses
) -> list[CourseMemberRead]:
    return [CourseMemberRead.of(m) for m in await courses.members(user, course_id)]


@router.put("/{course_id}/members/{member_id}")
async def change_member_role(
    course_id: str, member_id: str, body: MemberRoleUpdate, user: CurrentUser, courses: Courses
) -> Message:
    """Teachers and admins set any course role; TAs manage students only."""
    await courses.change_role(user, course_id, member_id, body.role)
    return Message(message="Role updated")


@router.delete("/{course_id}/members/{member_id}")
async def remove_member(
    course_id: str, member_id: str, user: CurrentUser, courses: Courses
) -> Message:
    await courses.remove(user, course_id, member_id)
    return Message(message="User removed from course")


@announcements_router.get("/")
async def list_announcements(
    course_id: CourseId, user: CurrentUser, courses: Courses
) -> list[AnnouncementRead]:
    """Members of the course only, newest first."""
    return [AnnouncementRead.of(a) for a in await courses.announcements(user, course_id)]


@announcements_router.post("/", status_code=status.HTTP_201_CREATED)
async def create_announcement(
    body: AnnouncementWrite, user: CurrentUser, courses: Courses
) -> AnnouncementRead:
    """Course staff and admins."""
    announcement = await courses.announce(user, body.course_id, body.title, body.content)
    return AnnouncementRead.of(announcement)
