"""Artifact HTTP API on the public paths; the gateway authorises and forwards with an identity.

The gateway checks course membership for the room (for ``/artifacts/{id}`` paths it first asks
``/internal/artifacts/{id}/room``); this service enforces what depends on the artifact itself:
same-room parents, versions, and who may erase history.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from coagent_chat.artifacts.domain import VersionConflict
from coagent_chat.artifacts.schemas import (
    ArtifactCreate,
    ArtifactRead,
    ArtifactRestore,
    ArtifactRoom,
    ArtifactUpdate,
    ArtifactVersionRead,
    VersionConflictBody,
)
from coagent_chat.artifacts.service import MAX_LIST, ArtifactService
from coagent_contracts.chat import ArtifactType
from coagent_kit.auth import Identity
from coagent_kit.errors import error_body


class _ArtifactRoute(APIRoute):
    """Renders a version conflict with ``current_version`` next to the fleet's detail and code.

    The kit's error handler renders only ``{detail, code}``; handling the one richer error here
    keeps the router self-contained wherever it is mounted.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except VersionConflict as exc:
                body = error_body(exc.detail, exc.code) | {"current_version": exc.current_version}
                return JSONResponse(body, exc.status)

        return handle


_CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": VersionConflictBody}}

router = APIRouter(prefix="/api/v1/workspaces", tags=["artifacts"], route_class=_ArtifactRoute)
internal_router = APIRouter(prefix="/internal/artifacts", tags=["artifacts"])


def _service(request: Request) -> ArtifactService:
    service: ArtifactService = request.app.state.artifacts
    return service


Service = Annotated[ArtifactService, Depends(_service)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


# The ``/artifacts/{id}`` routes come first so an id path never reads as ``/{room_id}/artifacts``.
@router.get("/artifacts/{artifact_id}")
async def get_artifact(artifact_id: str, identity: Identity, artifacts: Service) -> ArtifactRead:
    """A live artifact (404 ``artifact_not_found`` when missing or soft-deleted)."""
    return ArtifactRead.of(await artifacts.get(artifact_id))


async def _update(
    artifact_id: str, body: ArtifactUpdate, identity: Identity, artifacts: Service
) -> ArtifactRead:
    updated = await artifacts.update(
        artifact_id,
        identity.user_id,
        title=body.title,
        content=body.content,
        expected_version=body.expected_version,
    )
    return ArtifactRead.of(updated)


router.put("/artifacts/{artifact_id}", responses=_CONFLICT, summary="Update an artifact")(_update)
router.patch("/artifacts/{artifact_id}", responses=_CONFLICT, summary="Update an artifact (PATCH)")(
    _update
)


@router.delete("/artifacts/{artifact_id}", status_code=204)
async def delete_artifact(
    artifact_id: str,
    identity: Identity,
    artifacts: Service,
    hard_delete: bool = False,
) -> Response:
    """Hide an artifact; ``hard_delete=true`` (staff and admins) erases it and its history."""
    await artifacts.delete(
        artifact_id,
        identity.user_id,
        identity.platform_role,
        identity.resource_role,
        hard=hard_delete,
    )
    return Response(status_code=204)


@router.get("/artifacts/{artifact_id}/versions")
async def list_versions(
    artifact_id: str, identity: Identity, artifacts: Service
) -> list[ArtifactVersionRead]:
    """The artifact's history, newest first."""
    return [ArtifactVersionRead.of(v) for v in await artifacts.versions(artifact_id)]


@router.get("/artifacts/{artifact_id}/versions/{version}")
async def get_version(
    artifact_id: str, version: int, identity: Identity, artifacts: Service
) -> ArtifactVersionRead:
    """One revision (404 ``version_not_found`` if it does not exist)."""
    return ArtifactVersionRead.of(await artifacts.version(artifact_id, version))


@router.post("/artifacts/{artifact_id}/versions/{version}/restore", responses=_CONFLICT)
async def restore_version(
    artifact_id: str,
    version: int,
    identity: Identity,
    artifacts: Service,
    body: ArtifactRestore | None = None,
) -> ArtifactRead:
    """Make an old revision current again, as a new version."""
    expected = body.expected_version if body is not None else None
    restored = await artifacts.restore(artifact_id, version, identity.user_id, expected)
    return ArtifactRead.of(restored)


@router.get("/{room_id}/artifacts")
async def list_artifacts(
    room_id: str,
    identity: Identity,
    artifacts: Service,
    artifact_type: ArtifactType | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 500,
    include_deleted: bool = False,
) -> list[ArtifactRead]:
    """The room's artifacts, newest first."""
    found = await artifacts.list_room(room_id, artifact_type, limit, include_deleted)
    return [ArtifactRead.of(a) for a in found]


@router.post("/{room_id}/artifacts", status_code=201)
async def create_artifact(
    room_id: str,
    body: ArtifactCreate,
    identity: Identity,
    artifacts: Service,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ArtifactRead:
    """Create an artifact (201); a repeated ``Idempotency-Key`` returns the first one with 200."""
    artifact, created = await artifacts.create(
        room_id,
        body.type,
        body.title,
        body.content,
        identity.user_id,
        parent_artifact_id=body.parent_artifact_id,
        idempotency_key=idempotency_key,
    )
    if not created:
        response.status_code = 200
    return ArtifactRead.of(artifact)


@internal_router.get("/{artifact_id}/room")
async def artifact_room(artifact_id: str, identity: Identity, artifacts: Service) -> ArtifactRoom:
    """The room of an artifact, soft-deleted ones included, so the gateway can authorise."""
    return ArtifactRoom(room_id=await artifacts.room_of(artifact_id))
