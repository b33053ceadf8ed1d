"""``/internal/v1/access/...``: services ask the gateway whether a user may act on a room or a
course now.

The gateway owns membership, so a service that acts in a room on a user's behalf (the trigger
service firing a policy or a room's fallback) asks here instead of trusting a role captured
long ago. Callers present a service token: an internal identity token signed with the fleet's
internal secret for the audience ``gateway`` and the platform role ``service``. The gateway never
mints such tokens for users (it signs identities only for the services it forwards to), so the
route is closed to every public caller even though it is served on the gateway's port; it is
left out of the public OpenAPI document and no public route forwards to it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict

from coagent_gateway.courses.service import CourseService
from coagent_gateway.policy import Action, can
from coagent_gateway.rooms.domain import forwarded_role
from coagent_gateway.rooms.service import RoomService
from coagent_kit.auth import Identity, InternalIdentity, sign_identity
from coagent_kit.errors import Forbidden

#: The platform role of a service token (no user has it).
SERVICE_ROLE = "service"
#: The audience of service tokens addressed to the gateway.
GATEWAY_AUDIENCE = "gateway"

router = APIRouter(prefix="/internal/v1", tags=["internal"], include_in_schema=False)


def service_token(secret: str, service: str, ttl: timedelta = timedelta(seconds=60)) -> str:
    """A token ``service`` presents to the gateway's internal routes."""
    identity = InternalIdentity(user_id=f"service:{service}", platform_role=SERVICE_ROLE)
    return sign_identity(secret, identity, audience=GATEWAY_AUDIENCE, ttl=ttl)


def _service(identity: Identity) -> InternalIdentity:
    # A valid identity for the gateway is not enough: only service tokens may ask about others.
    if identity.platform_role != SERVICE_ROLE:
        raise Forbidden("Only services may use internal routes", code="service_token_required")
    return identity


ServiceCaller = Annotated[InternalIdentity, Depends(_service)]
Id = Annotated[str, Path(min_length=1, max_length=64)]


class RoomAccessAnswer(BaseModel):
    """Whether ``user_id`` may act on ``room_id`` (read it, post in it) right now."""

    model_config = ConfigDict(frozen=True)

    room_id: str
    user_id: str
    allowed: bool
    room_exists: bool
    platform_role: str | None
    """The user's current platform role; null when the user does not exist."""
    room_role: str | None
    """``owner`` for the course owner, else the course role (``teacher``, ``ta``, ``student``)."""
    course_id: str | None


def _rooms(request: Request) -> RoomService:
    service: RoomService = request.app.state.rooms
    return service


@router.get("/access/rooms/{room_id}/users/{user_id}")
async def room_access(
    room_id: Id,
    user_id: Id,
    caller: ServiceCaller,
    rooms: Annotated[RoomService, Depends(_rooms)],
) -> RoomAccessAnswer:
    """The gateway's own policy answer (``room.chat``) for that user and room."""
    access, user = await rooms.access_of(room_id, user_id)
    allowed = access is not None and user is not None
    if access is not None and user is not None:
        allowed = can(user, Action.ROOM_CHAT, access.resource)
    return RoomAccessAnswer(
        room_id=room_id,
        user_id=user_id,
        allowed=allowed,
        room_exists=access is not None,
        platform_role=None if user is None else user.platform_role.value,
        room_role=(
            None if access is None else forwarded_role(access.course.owner_id, access.role, user_id)
        ),
        course_id=None if access is None else access.course.id,
    )


class CourseAccessAnswer(BaseModel):
    """Whether ``user_id`` may act on ``course_id`` (read it: members, its owner, admins) now."""

    model_config = ConfigDict(frozen=True)

    course_id: str
    user_id: str
    allowed: bool
    course_exists: bool
    platform_role: str | None
    """The user's current platform role; null when the user does not exist."""
    course_role: str | None
    """``owner`` for the course owner, else the course role (``teacher``, ``ta``, ``student``)."""


def _courses(request: Request) -> CourseService:
    service: CourseService = request.app.state.courses
    return service


@router.get("/access/courses/{course_id}/users/{user_id}")
async def course_access(
    course_id: Id,
    user_id: Id,
    caller: ServiceCaller,
    courses: Annotated[CourseService, Depends(_courses)],
) -> CourseAccessAnswer:
    """The gateway's own policy answer (``course.read``) for that user and course."""
    view, user = await courses.access_of(course_id, user_id)
    allowed = False
    if view is not None and user is not None:
        allowed = can(user, Action.COURSE_READ, view.course.resource(view.role))
    return CourseAccessAnswer(
        course_id=course_id,
        user_id=user_id,
        allowed=allowed,
        course_exists=view is not None,
        platform_role=None if user is None else user.platform_role.value,
        course_role=(
            None if view is None else forwarded_role(view.course.owner_id, view.role, user_id)
        ),
    )
