"""Public workflow routes (the gateway forwards the same paths with a signed identity)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from coagent_kit.auth import Identity, InternalIdentity
from coagent_workflow_engine.workflows.domain import Caller
from coagent_workflow_engine.workflows.schemas import (
    WorkflowCreate,
    WorkflowRead,
    WorkflowUpdate,
    WorkflowVersionRead,
)
from coagent_workflow_engine.workflows.service import WorkflowService

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])
rooms_router = APIRouter(prefix="/api/v1/rooms/{room_id}/workflow", tags=["workflows"])
#: Versions are numbered from 1 and stored as 32-bit integers: larger numbers cannot exist.
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such workflow, or not yours (`workflow_not_found`)"}
}


def _service(request: Request) -> WorkflowService:
    service: WorkflowService = request.app.state.workflows
    return service


Service = Annotated[WorkflowService, Depends(_service)]


def caller_of(identity: InternalIdentity) -> Caller:
    """The domain's view of the signed identity."""
    return Caller(identity.user_id, identity.platform_role, identity.resource_role)


@router.get("")
async def list_workflows(identity: Identity, service: Service) -> list[WorkflowRead]:
    """The caller's workflows (all of them for admins), newest update first."""
    return [WorkflowRead.of(*pair) for pair in await service.list_for(caller_of(identity))]


@router.post("", status_code=201)
async def create_workflow(
    body: WorkflowCreate, identity: Identity, service: Service
) -> WorkflowRead:
    """A new workflow; its graph may be a draft (422 ``invalid_graph`` lists every problem)."""
    created = await service.create(caller_of(identity), body.name, body.graph_data, body.is_active)
    return WorkflowRead.of(*created)


@router.get("/{workflow_id}", responses=NOT_FOUND)
async def get_workflow(workflow_id: str, identity: Identity, service: Service) -> WorkflowRead:
    return WorkflowRead.of(*await service.get(caller_of(identity), workflow_id))


@router.put("/{workflow_id}", responses=NOT_FOUND)
async def update_workflow(
    workflow_id: str, body: WorkflowUpdate, identity: Identity, service: Service
) -> WorkflowRead:
    """Partial update; a ``graph_data`` becomes a new immutable version."""
    sent = body.model_dump(exclude_unset=True)
    updated = await service.update(
        caller_of(identity),
        workflow_id,
        name=sent.get("name"),
        graph_data=sent.get("graph_data"),
        is_active=sent.get("is_active"),
    )
    return WorkflowRead.of(*updated)


@router.delete("/{workflow_id}", responses=NOT_FOUND)
async def delete_workflow(
    workflow_id: str, identity: Identity, service: Service
) -> dict[str, bool]:
    """Soft delete (past runs keep their versions)."""
    await service.delete(caller_of(identity), workflow_id)
    return {"ok": True}


@router.get("/{workflow_id}/versions", responses=NOT_FOUND)
async def list_versions(
    workflow_id: str, identity: Identity, service: Service
) -> list[WorkflowVersionRead]:
    """Every version, newest first."""
    versions = await service.versions(caller_of(identity), workflow_id)
    return [WorkflowVersionRead.of(v) for v in versions]


@router.get("/{workflow_id}/versions/{number}", responses=NOT_FOUND)
async def get_version(
    workflow_id: str, number: VersionNumber, identity: Identity, service: Service
) -> WorkflowVersionRead:
    return WorkflowVersionRead.of(await service.version(caller_of(identity), workflow_id, number))


@router.post("/{workflow_id}/versions/{number}/restore", responses=NOT_FOUND)
async def restore_version(
    workflow_id: str, number: VersionNumber, identity: Identity, service: Service
) -> WorkflowRead:
    """A new current version with the graph of version ``number``."""
    return WorkflowRead.of(*await service.restore(caller_of(identity), workflow_id, number))


@rooms_router.get("")
async def get_room_workflow(
    room_id: str, identity: Identity, service: Service
) -> WorkflowRead | None:
    """The room's attached workflow, ``null`` when none is attached."""
    current = await service.room_workflow(room_id)
    return None if current is None else WorkflowRead.of(*current)


@rooms_router.put("", responses={403: {"description": "Not the course's staff"}})
async def put_room_workflow(
    room_id: str, body: WorkflowUpdate, identity: Identity, service: Service
) -> WorkflowRead:
    """Update the attached workflow, or create one and attach it (the reference's upsert)."""
    sent = body.model_dump(exclude_unset=True)
    current = await service.put_room_workflow(
        caller_of(identity),
        room_id,
        name=sent.get("name"),
        graph_data=sent.get("graph_data"),
        is_active=sent.get("is_active"),
    )
    return WorkflowRead.of(*current)
