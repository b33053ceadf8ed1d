"""Public routes owned by other services: authorised here, then forwarded unchanged.

Each service serves the same public path internally, behind the signed identity the gateway
sends. Room-scoped routes are opened by course membership like every room; the rest need an
authenticated user and leave finer decisions (ownership of a workflow, a trigger, an agent) to
the owning service, which receives the caller's platform role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.policy import Action
from coagent_gateway.rooms.domain import forwarded_role
from coagent_gateway.routing.artifacts import add_artifact_routes
from coagent_gateway.routing.forward import forward, forwarded_to, quoted_path
from coagent_gateway.routing.hooks import router as hooks_router
from coagent_kit.auth import InternalIdentity

READ_METHODS = frozenset({"GET", "HEAD"})
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True)
class Owned:
    """A public route family and the service that owns it."""

    path: str
    service: str
    tag: str
    #: For room-scoped routes: the action a write needs (reads need ``ROOM_READ``).
    room_write: Action | None = None


OWNED: tuple[Owned, ...] = (
    Owned("/api/v1/workflows", "workflow-engine", "workflows"),
    Owned("/api/v1/workflows/{rest:path}", "workflow-engine", "workflows"),
    Owned("/api/v1/agents/{rest:path}", "workflow-engine", "agents"),
    Owned("/api/v1/agent-config/{rest:path}", "workflow-engine", "agents"),
    Owned("/api/v1/agent-types", "workflow-engine", "agents"),
    Owned("/api/v1/agent-types/{rest:path}", "workflow-engine", "agents"),
    Owned("/api/v1/threads", "workflow-engine", "agents"),
    Owned("/api/v1/threads/{rest:path}", "workflow-engine", "agents"),
    Owned("/api/v1/users/keys", "workflow-engine", "llm-keys"),
    Owned("/api/v1/users/keys/{rest:path}", "workflow-engine", "llm-keys"),
    Owned("/api/v1/triggers", "trigger", "triggers"),
    Owned("/api/v1/triggers/{rest:path}", "trigger", "triggers"),
    # A dry run reads the room's messages: reading the room is enough, for any method.
    Owned("/api/v1/rooms/{room_id}/triggers/{rest:path}", "trigger", "triggers", Action.ROOM_READ),
    Owned("/api/v1/rooms/{room_id}/workflow", "workflow-engine", "workflows", Action.ROOM_UPDATE),
    Owned("/api/v1/rooms/{room_id}/agents", "workflow-engine", "agents", Action.ROOM_MANAGE_AGENTS),
    Owned(
        "/api/v1/rooms/{room_id}/agents/{rest:path}",
        "workflow-engine",
        "agents",
        Action.ROOM_MANAGE_AGENTS,
    ),
    Owned("/api/v1/workspaces/{room_id}/artifacts", "chat", "artifacts", Action.ROOM_CHAT),
    Owned("/api/v1/graph/{room_id}", "graphrag-query", "graph", Action.ROOM_READ),
    # The room's ingest jobs are ingest's own record; a build (POST /build) is asked of
    # graphrag-query, which hands it to ingest as a command.
    Owned("/api/v1/graph/{room_id}/ingest-jobs", "graphrag-ingest", "graph"),
    Owned("/api/v1/graph/{room_id}/{rest:path}", "graphrag-query", "graph", Action.ROOM_CHAT),
)


Endpoint = Callable[..., Awaitable[StreamingResponse]]


def _endpoint(owned: Owned) -> Endpoint:
    async def forward_owned(request: Request, user: CurrentUser) -> StreamingResponse:
        role: str | None = None
        room_id = request.path_params.get("room_id")
        if owned.room_write is not None and isinstance(room_id, str):
            action = Action.ROOM_READ if request.method in READ_METHODS else owned.room_write
            access = await request.app.state.room_access(user, room_id, action)
            role = forwarded_role(access.course.owner_id, access.role, user.id)
        identity = InternalIdentity(
            user_id=user.id, platform_role=user.platform_role.value, resource_role=role
        )
        return await forward(
            request,
            request.app.state.services,
            owned.service,
            quoted_path(request),
            identity,
        )

    return forward_owned


def owned_routes_router() -> APIRouter:
    """Every forwarded route family (documented in the OpenAPI under its tag)."""
    router = APIRouter()
    # Signed webhooks need no session (the signature is the credential), unlike the families
    # below; they are served with them so every forwarded path is registered in one place.
    router.include_router(hooks_router)
    # First: ``/workspaces/artifacts/artifacts`` also fits ``/workspaces/{room_id}/artifacts``.
    add_artifact_routes(router, METHODS)
    for index, owned in enumerate(OWNED):
        endpoint = _endpoint(owned)
        for method in METHODS:  # one route per method: each gets its own operation id
            router.add_api_route(
                owned.path,
                endpoint,
                methods=[method],
                tags=[owned.tag],
                name=f"forward_{owned.tag}_{index}_{method.lower()}",
                summary=f"Forwarded to the {owned.service} service",
                response_model=None,
                openapi_extra=forwarded_to(owned.service),
            )
    return router
