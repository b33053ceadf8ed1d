"""Internal run lookup for the gateway (``GET /internal/runs/{run_id}``).

The gateway decides who may follow a run's live events (room readers, its creator, platform
admins) and needs the run's room and creator to do so without knowing the workflow id. The
public routes cannot serve that: they are scoped to workflows the caller may access. The
gateway never forwards ``/internal/...`` paths, so only services holding the signing secret
reach this route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from coagent_kit.auth import Identity
from coagent_workflow_engine.domain import RunStatus
from coagent_workflow_engine.service import WorkflowEngineService

internal_router = APIRouter(prefix="/internal/runs", tags=["internal"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such run (`run_not_found`)"}}


class RunSummary(BaseModel):
    """What the gateway needs to authorise following a run."""

    run_id: str
    workflow_id: str
    room_id: str | None
    created_by: str | None
    status: RunStatus


def _service(request: Request) -> WorkflowEngineService:
    service: WorkflowEngineService = request.app.state.workflow_engine
    return service


@internal_router.get("/{run_id}", responses=NOT_FOUND)
async def lookup_run(
    run_id: str,
    _identity: Identity,
    engine: Annotated[WorkflowEngineService, Depends(_service)],
) -> RunSummary:
    """The run's workflow, room, creator and status (404 ``run_not_found``)."""
    run = await engine.lookup_run(run_id)
    return RunSummary(
        run_id=run.id,
        workflow_id=run.workflow_id,
        room_id=run.room_id,
        created_by=run.created_by,
        status=run.status,
    )
