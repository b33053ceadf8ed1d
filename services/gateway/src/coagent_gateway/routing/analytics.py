"""``/api/v1/analytics/{course_id}``: course reports, authorised here and kept by the engine.

The reference let any signed-in user list any course's reports; here reading needs the course
(``COURSE_READ``: members, the owner and admins; others get 404 so course ids cannot be probed),
and generating needs course staff (``COURSE_MEMBERS_MANAGE``: the owner, teachers, TAs and
admins, the reference's "admin, teacher or TA" rule; ``COURSE_UPDATE`` would shut TAs out). The
engine does not know which rooms belong to a course, so the gateway sends their ids (and
names, for the report's section titles) with the generation request.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from coagent_gateway.adapters.services_http import ServiceClient, path_segment
from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.courses.service import CourseService, CourseView
from coagent_gateway.domain import User
from coagent_gateway.policy import Action
from coagent_gateway.rooms.domain import forwarded_role
from coagent_gateway.rooms.service import RoomService
from coagent_gateway.routing.forward import forward, forwarded_to, quoted_path
from coagent_kit.auth import InternalIdentity

ENGINE = "workflow-engine"
#: Generating a report is staff work (see the module docstring for why this action).
GENERATE_ACTION = Action.COURSE_MEMBERS_MANAGE

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])


def _identity(user: User, view: CourseView) -> InternalIdentity:
    return InternalIdentity(
        user_id=user.id,
        platform_role=user.platform_role.value,
        resource_role=forwarded_role(view.course.owner_id, view.role, user.id),
    )


@router.get(
    "/{course_id}",
    summary="Forwarded to the workflow-engine service",
    response_model=None,
    openapi_extra=forwarded_to(ENGINE),
)
async def list_reports(course_id: str, request: Request, user: CurrentUser) -> StreamingResponse:
    """The course's reports, newest first: ``[{id, content, created_at, status, …}]``."""
    courses: CourseService = request.app.state.courses
    view = await courses.view(user, course_id, Action.COURSE_READ)
    services: ServiceClient = request.app.state.services
    return await forward(request, services, ENGINE, quoted_path(request), _identity(user, view))


# Not marked as forwarded: the gateway writes the body the engine receives, so the public
# operation is this one, not the engine's.
@router.post("/{course_id}/generate", status_code=202, response_model=None)
async def generate_report(course_id: str, request: Request, user: CurrentUser) -> JSONResponse:
    """Queue a report on every room of the course (202 ``{id, status: "queued"}``).

    The client sends no body; whatever it sends is ignored, so it cannot pick rooms of
    another course.
    """
    courses: CourseService = request.app.state.courses
    view = await courses.view(user, course_id, GENERATE_ACTION)
    rooms: RoomService = request.app.state.rooms
    in_course = await rooms.in_course(user, course_id)
    services: ServiceClient = request.app.state.services
    response = await services.request(
        ENGINE,
        "POST",
        f"/api/v1/analytics/{path_segment(course_id)}/generate",
        _identity(user, view),
        json={
            "room_ids": [room.id for room in in_course],
            "room_names": {room.id: room.settings.name for room in in_course},
        },
    )
    try:
        body: object = response.json()
    except ValueError:
        body = {"detail": "The workflow engine gave no answer", "code": "bad_upstream"}
    return JSONResponse(body, status_code=response.status_code)
