"""Artifact routes addressed by artifact id (``/api/v1/workspaces/artifacts/{artifact_id}…``).

The path names no room, yet artifacts are room-scoped: the gateway asks the chat service which
room the artifact lives in, checks the caller's access to that room like any room route, then
forwards the request unchanged. An artifact of a room the caller may not see is "not found", so
ids cannot be probed for existence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from coagent_gateway.adapters.services_http import ServiceClient, path_segment
from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.chat.service import raise_for
from coagent_gateway.domain import User
from coagent_gateway.policy import Action
from coagent_gateway.rooms.domain import forwarded_role
from coagent_gateway.routing.forward import forward, forwarded_to, quoted_path
from coagent_kit.auth import InternalIdentity
from coagent_kit.errors import NotFound, ServiceError

CHAT = "chat"
ARTIFACT = "/api/v1/workspaces/artifacts/{artifact_id}"
ARTIFACT_REST = "/api/v1/workspaces/artifacts/{artifact_id}/{rest:path}"
#: Values of ``hard_delete`` that clearly mean "no"; anything else needs the stronger right.
NOT_HARD = frozenset({"", "0", "false", "f", "no", "n", "off"})


class ArtifactNotFound(NotFound):
    # Also for artifacts of rooms the caller may not see: their existence is not revealed.
    code = "artifact_not_found"


def required_action(request: Request) -> Action:
    """Reading needs ``ROOM_READ``; erasing for good is staff work; other edits ``ROOM_CHAT``.

    ``hard_delete`` is judged fail-closed: any value (of any repetition) that is not clearly
    false counts as a hard delete, so no spelling the chat service might read as true slips by.
    """
    if request.method in ("GET", "HEAD"):
        return Action.ROOM_READ
    if request.method == "DELETE" and any(
        value.strip().lower() not in NOT_HARD
        for value in request.query_params.getlist("hard_delete")
    ):
        return Action.ROOM_UPDATE
    return Action.ROOM_CHAT


async def room_of_artifact(services: ServiceClient, user: User, artifact_id: str) -> str:
    """The id of the room holding ``artifact_id`` (404 ``artifact_not_found`` if none)."""
    identity = InternalIdentity(user_id=user.id, platform_role=user.platform_role.value)
    response = await services.request(
        CHAT, "GET", f"/internal/artifacts/{path_segment(artifact_id)}/room", identity
    )
    if response.status_code == 404:
        raise ArtifactNotFound("Artifact not found")
    raise_for(response)
    room_id = response.json().get("room_id")
    if not isinstance(room_id, str) or not room_id:
        raise ServiceError(
            "The chat service gave no room for this artifact", code="bad_upstream", status=502
        )
    return room_id


async def _forward_by_id(request: Request, user: User, artifact_id: str) -> StreamingResponse:
    services: ServiceClient = request.app.state.services
    path = quoted_path(request)  # first: a path that cannot be forwarded needs no lookup
    room_id = await room_of_artifact(services, user, artifact_id)
    try:
        access = await request.app.state.room_access(user, room_id, required_action(request))
    except NotFound as hidden:
        raise ArtifactNotFound("Artifact not found") from hidden
    identity = InternalIdentity(
        user_id=user.id,
        platform_role=user.platform_role.value,
        resource_role=forwarded_role(access.course.owner_id, access.role, user.id),
    )
    return await forward(request, services, CHAT, path, identity)


async def artifact_by_id(
    artifact_id: str, request: Request, user: CurrentUser
) -> StreamingResponse:
    """Read, update (``PUT`` shallow-merges task content; ``expected_version`` → 409 if stale)."""
    return await _forward_by_id(request, user, artifact_id)


async def delete_artifact(
    artifact_id: str,
    request: Request,
    user: CurrentUser,
    hard_delete: Annotated[
        bool, Query(description="Erase the artifact and its history (course staff only)")
    ] = False,
) -> StreamingResponse:
    """Soft delete by default (members); ``hard_delete=true`` is for course staff and admins."""
    return await _forward_by_id(request, user, artifact_id)


async def artifact_subresource(
    artifact_id: str, rest: str, request: Request, user: CurrentUser
) -> StreamingResponse:
    """Versions of an artifact: list, read one, restore one (``POST …/versions/{v}/restore``)."""
    return await _forward_by_id(request, user, artifact_id)


Endpoint = Callable[..., Awaitable[StreamingResponse]]


def add_artifact_routes(router: APIRouter, methods: Sequence[str]) -> None:
    """Register the by-id routes on ``router`` (before any room-scoped artifact route)."""
    routes: list[tuple[str, str, Endpoint]] = [
        (ARTIFACT, m, delete_artifact if m == "DELETE" else artifact_by_id)
        for m in methods
        if m != "POST"
    ]
    routes += [(ARTIFACT_REST, m, artifact_subresource) for m in methods]
    for path, method, endpoint in routes:
        suffix = "item" if path == ARTIFACT else "sub"
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            tags=["artifacts"],
            name=f"artifact_{suffix}_{method.lower()}",
            summary="Forwarded to the chat service (room found by artifact id)",
            response_model=None,
            openapi_extra=forwarded_to(CHAT),
        )
