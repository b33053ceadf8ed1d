"""HTTP shapes of the course and announcement routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from coagent_gateway.courses.domain import Announcement, Course, CourseMember, CourseRole


class CourseWrite(BaseModel):
    """Title and description of a course (create and update)."""

    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)


class CourseRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    description: str | None
    owner_id: str | None
    owner_name: str | None
    created_at: datetime

    @classmethod
    def of(cls, course: Course) -> CourseRead:
        return cls(
            id=course.id,
            title=course.title,
            description=course.description,
            owner_id=course.owner_id,
            owner_name=course.owner_name,
            created_at=course.created_at,
        )


class EnrollmentRequest(BaseModel):
    """Who to enrol: ``user_id`` wins over ``user_email``; one of them is required."""

    user_email: str | None = Field(default=None, min_length=1, max_length=320)
    user_id: str | None = Field(default=None, min_length=1, max_length=64)
    role: CourseRole = "student"


class MemberRoleUpdate(BaseModel):
    role: CourseRole


class CourseMemberRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    email: str
    full_name: str | None
    avatar_url: str | None
    role: str

    @classmethod
    def of(cls, member: CourseMember) -> CourseMemberRead:
        return cls(
            user_id=member.user_id,
            email=member.email,
            full_name=member.full_name,
            avatar_url=member.avatar_url,
            role=member.role,
        )


class Message(BaseModel):
    """A human-readable outcome (the reference client shows it in a toast)."""

    message: str


class AnnouncementWrite(BaseModel):
    course_id: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=255)
    content: str = Field(min_length=1, max_length=50_000)


class AnnouncementRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    course_id: str
    title: str
    content: str
    author_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, a: Announcement) -> AnnouncementRead:
        return cls(
            id=a.id,
            course_id=a.course_id,
            title=a.title,
            content=a.content,
            author_id=a.author_id,
            created_at=a.created_at,
        )
