"""``/api/v1/rooms/*``: rooms are open to the members of their course.

A room (or course) the caller may not read answers 404 ``room_not_found`` (``course_not_found``)
so its existence is not revealed; a forbidden action on a visible room answers 403 ``forbidden``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.courses.schemas import Message
from coagent_gateway.policy import Action
from coagent_gateway.rooms.schemas import AssignmentRequest, RoomCreate, RoomRead, RoomUpdate
from coagent_gateway.rooms.service import RoomService


def room_service(request: Request) -> RoomService:
    """The app's :class:`RoomService`."""
    service: RoomService = request.app.state.rooms
    return service


Rooms = Annotated[RoomService, Depends(room_service)]

router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])


@router.get("/")
async def list_rooms(
    course_id: Annotated[str, Query(min_length=1, max_length=64)],
    user: CurrentUser,
    rooms: Rooms,
) -> list[RoomRead]:
    """The rooms of a course the caller may read."""
    return [RoomRead.of(r) for r in await rooms.in_course(user, course_id)]


@router.post("/", status_code=status.HTTP_201_CREATED)
async def create_room(body: RoomCreate, user: CurrentUser, rooms: Rooms) -> RoomRead:
    """Course staff and admins."""
    return RoomRead.of(await rooms.create(user, body.course_id, body.settings()))


@router.get("/{room_id}")
async def get_room(room_id: str, user: CurrentUser, rooms: Rooms) -> RoomRead:
    return RoomRead.of((await rooms.room_access(user, room_id, Action.ROOM_READ)).room)


@router.put("/{room_id}")
async def update_room(room_id: str, body: RoomUpdate, user: CurrentUser, rooms: Rooms) -> RoomRead:
    return RoomRead.of(await rooms.update(user, room_id, body.changes()))


@router.delete("/{room_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_room(room_id: str, user: CurrentUser, rooms: Rooms) -> None:
    await rooms.delete(user, room_id)


@router.post("/{room_id}/assign")
async def assign(room_id: str, body: AssignmentRequest, user: CurrentUser, rooms: Rooms) -> Message:
    """Assign a member of the room's course (409 ``not_a_course_member`` otherwise)."""
    target, added = await rooms.assign(user, room_id, user_id=body.user_id, email=body.user_email)
    if not added:
        return Message(message="User already assigned to room")
    return Message(message=f"User {target.full_name or target.username} assigned to room")


@router.delete("/{room_id}/assign/{member_id}")
async def unassign(room_id: str, member_id: str, user: CurrentUser, rooms: Rooms) -> Message:
    await rooms.unassign(user, room_id, member_id)
    return Message(message="User removed from room")
