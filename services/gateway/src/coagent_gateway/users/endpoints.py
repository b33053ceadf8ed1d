"""``/api/v1/users``: the directory, one's own profile and avatar (frontend-client.md §4.2)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile

from coagent_gateway.auth.dependencies import CurrentUser, client_ip
from coagent_gateway.auth.schemas import UserRead
from coagent_gateway.users.avatars import MAX_BYTES
from coagent_gateway.users.schemas import (
    ForgetAccepted,
    MeUpdate,
    UserCreate,
    UserSummary,
    UserUpdate,
)
from coagent_gateway.users.service import AdminEdit, Profile, UserService

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def user_service(request: Request) -> UserService:
    """The app's :class:`UserService`."""
    service: UserService = request.app.state.users
    return service


Users = Annotated[UserService, Depends(user_service)]


@router.get("/")
async def list_users(
    me: CurrentUser,
    users: Users,
    skip: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    search: Annotated[str | None, Query(max_length=100)] = None,
) -> list[UserRead]:
    """Every user (admins), optionally filtered by a case-insensitive substring."""
    return [UserRead.of(u) for u in await users.list(me, skip, limit, search)]


@router.post("/", status_code=201)
async def create_user(
    body: UserCreate, request: Request, me: CurrentUser, users: Users
) -> UserRead:
    """Create an account: admins create non-admin roles; admin roles are super-admin only."""
    user = await users.create(
        me,
        body.email,
        body.username,
        body.password,
        body.full_name,
        body.role,
        client_ip(request),
    )
    return UserRead.of(user)


@router.get("/me")
async def read_me(me: CurrentUser) -> UserRead:
    """The caller."""
    return UserRead.of(me)


@router.put("/me")
async def update_me(body: MeUpdate, request: Request, me: CurrentUser, users: Users) -> UserRead:
    """Change one's name, username, password, or clear the avatar; never the role."""
    profile = Profile(
        full_name=body.full_name,
        username=body.username,
        password=body.password,
        avatar_url=body.avatar_url,
        avatar_url_set="avatar_url" in body.model_fields_set,
    )
    return UserRead.of(await users.update_me(me, profile, client_ip(request)))


@router.post("/me/avatar")
async def upload_avatar(
    request: Request, me: CurrentUser, users: Users, file: Annotated[UploadFile, File()]
) -> UserRead:
    """A PNG, JPEG or WebP image (≤ 2 MiB), checked by content and re-encoded as PNG."""
    data = await file.read(MAX_BYTES + 1)
    return UserRead.of(await users.set_avatar(me, data, client_ip(request)))


@router.get("/search")
async def search_users(
    me: CurrentUser,
    users: Users,
    request: Request,
    q: Annotated[str, Query(max_length=100)],
    limit: Annotated[int, Query(ge=1, le=20)] = 10,
    course_id: Annotated[
        str | None,
        Query(max_length=64, description="Search as staff of this course (e.g. a TA)"),
    ] = None,
) -> list[UserSummary]:
    """People to enrol or assign (teachers, admins, or staff of ``course_id``)."""
    course_role: str | None = None
    if course_id is not None:
        view = await request.app.state.courses.view(me, course_id)
        course_role = "teacher" if view.course.owner_id == me.id else view.role
    return [UserSummary.of(u) for u in await users.search(me, q, limit, course_role)]


@router.get("/{user_id:uuid}")
async def read_user(user_id: uuid.UUID, me: CurrentUser, users: Users) -> UserRead:
    """A user: oneself, or anyone for admins."""
    return UserRead.of(await users.get(me, str(user_id)))


@router.put("/{user_id:uuid}")
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, request: Request, me: CurrentUser, users: Users
) -> UserRead:
    """Edit a user; a role change is checked on its own and never allowed on oneself."""
    edit = AdminEdit(
        full_name=body.full_name,
        username=body.username,
        password=body.password,
        role=body.role,
        is_active=body.is_active,
    )
    return UserRead.of(await users.update(me, str(user_id), edit, client_ip(request)))


@router.delete("/{user_id:uuid}")
async def delete_user(
    user_id: uuid.UUID, request: Request, me: CurrentUser, users: Users
) -> UserRead:
    """Deactivate a user (not oneself): sessions and API keys stop working at once."""
    return UserRead.of(await users.deactivate(me, str(user_id), client_ip(request)))


@router.post("/{user_id:uuid}/forget", status_code=202)
async def forget_user(
    user_id: uuid.UUID, request: Request, me: CurrentUser, users: Users
) -> ForgetAccepted:
    """Forget a user (admins, not oneself): the account is deactivated and anonymised at once,
    and every message the user wrote is then erased from every room, the knowledge graph
    included. Idempotent: asking again re-runs the erasure."""
    event = await users.forget(me, str(user_id), client_ip(request))
    return ForgetAccepted(user_id=event.data.user_id, event_id=event.event_id)
