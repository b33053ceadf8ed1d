"""Internal HTTP API of the workflow engine (called by the gateway with an identity token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from coagent_kit.auth import Identity
from coagent_workflow_engine.schemas import RunRead
from coagent_workflow_engine.service import MAX_PAGE, WorkflowEngineService

router = APIRouter(prefix="/internal/workflows/{workflow_id}", tags=["runs"])


def _service(request: Request) -> WorkflowEngineService:
    service: WorkflowEngineService = request.app.state.workflow_engine
    return service


Service = Annotated[WorkflowEngineService, Depends(_service)]


@router.get("/runs")
async def list_runs(
    workflow_id: str,
    identity: Identity,
    engine: Service,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> list[RunRead]:
    """The latest runs of the workflow, newest first."""
    return [RunRead.of(run) for run in await engine.list_runs(workflow_id, limit)]


@router.get("/runs/{run_id}", responses={404: {"description": "No such run of this workflow"}})
async def get_run(workflow_id: str, run_id: str, identity: Identity, engine: Service) -> RunRead:
    """One run of the workflow (404 ``run_not_found`` also when it belongs to another one)."""
    return RunRead.of(await engine.get_run(workflow_id, run_id))
