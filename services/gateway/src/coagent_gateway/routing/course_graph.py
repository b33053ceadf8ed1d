"""``POST /api/v1/courses/{course_id}/graph/query``: one question over a course's rooms.

The knowledge graph is partitioned by room; a course is the set of its rooms' partitions. The
gateway decides which partitions a question may read: the caller must be able to read the
course (others get 404, as for every course route, so course ids cannot be probed), and only the
course's rooms the policy lets them read are sent to graphrag-query. The client names no rooms:
its body carries the question only, and anything else in it is ignored.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.courses.service import CourseService, CourseView
from coagent_gateway.domain import User
from coagent_gateway.policy import Action, Kind, Resource, can
from coagent_gateway.rooms.domain import Room, forwarded_role
from coagent_gateway.rooms.service import RoomService
from coagent_kit.auth import InternalIdentity

QUERY = "graphrag-query"
COURSE_QUERY_PATH = "/internal/v1/graph/query"

router = APIRouter(prefix="/api/v1/courses", tags=["graph"])


class CourseQuestion(BaseModel):
    """The body of a room question (``POST /api/v1/graph/{room_id}/query``)."""

    question: str = Field(min_length=1, max_length=4000)
    mode: Literal["auto", "basic", "local", "global"] = "auto"
    level: int | None = Field(default=None, ge=0, le=16)


def readable_rooms(user: User, view: CourseView, rooms: list[Room]) -> list[str]:
    """Ids of the course's rooms the policy lets ``user`` read, in the store's order."""
    return [
        room.id
        for room in rooms
        if can(
            user,
            Action.ROOM_READ,
            Resource(Kind.ROOM, room.id, owner_id=view.course.owner_id, membership=view.role),
        )
    ]


@router.post("/{course_id}/graph/query", response_model=None)
async def ask_course(
    course_id: str, body: CourseQuestion, request: Request, user: CurrentUser
) -> JSONResponse:
    """Answer from the conversations of every room of the course the caller may read.

    The answer has the room question's shape; each citation also carries its ``room_id``, and
    ``rooms`` lists the rooms searched. A course without rooms gets an answer that found nothing.
    """
    courses: CourseService = request.app.state.courses
    view = await courses.view(user, course_id, Action.COURSE_READ)
    room_service: RoomService = request.app.state.rooms
    rooms = readable_rooms(user, view, await room_service.in_course(user, course_id))
    identity = InternalIdentity(
        user_id=user.id,
        platform_role=user.platform_role.value,
        resource_role=forwarded_role(view.course.owner_id, view.role, user.id),
    )
    services: ServiceClient = request.app.state.services
    response = await services.request(
        QUERY, "POST", COURSE_QUERY_PATH, identity, json={**body.model_dump(), "rooms": rooms}
    )
    try:
        answer: object = response.json()
    except ValueError:
        answer = {"detail": "The graphrag-query service gave no answer", "code": "bad_upstream"}
    return JSONResponse(answer, status_code=response.status_code)
