"""Public runs API (the gateway forwards ``/api/v1/workflows/...`` by the same path)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request

from coagent_kit.auth import Identity
from coagent_workflow_engine.schemas import (
    ExecuteBody,
    ResumeBody,
    RunAccepted,
    RunDetail,
    RunRead,
    StepRead,
)
from coagent_workflow_engine.service import MAX_PAGE, WorkflowEngineService
from coagent_workflow_engine.workflows.endpoints import caller_of

router = APIRouter(prefix="/api/v1/workflows/{workflow_id}", tags=["runs"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such workflow or run (`workflow_not_found`, `run_not_found`)"}
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _service(request: Request) -> WorkflowEngineService:
    service: WorkflowEngineService = request.app.state.workflow_engine
    return service


Service = Annotated[WorkflowEngineService, Depends(_service)]


@router.post("/execute", status_code=202, responses=NOT_FOUND)
async def execute(
    workflow_id: str,
    identity: Identity,
    engine: Service,
    body: ExecuteBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> RunAccepted:
    """Queue a run of the current version (422 ``workflow_not_runnable`` if it cannot run)."""
    sent = body or ExecuteBody()
    run = await engine.execute(
        caller_of(identity), workflow_id, sent.room_id, sent.input, idempotency_key
    )
    return RunAccepted(run_id=run.id, status=run.status)


@router.get("/runs", responses=NOT_FOUND)
async def list_runs(
    workflow_id: str,
    identity: Identity,
    engine: Service,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> list[RunRead]:
    """The latest runs of the workflow, newest first."""
    runs = await engine.list_runs(caller_of(identity), workflow_id, limit)
    return [RunRead.of(run) for run in runs]


@router.get("/runs/{run_id}", responses=NOT_FOUND)
async def get_run(workflow_id: str, run_id: str, identity: Identity, engine: Service) -> RunDetail:
    """One run with its steps (404 ``run_not_found`` also when it belongs to another workflow)."""
    run, steps = await engine.get_run(caller_of(identity), workflow_id, run_id)
    read = RunRead.of(run)
    return RunDetail(**read.model_dump(), steps=[StepRead.of(s) for s in steps], input=run.input)


@router.post("/runs/{run_id}/cancel", status_code=202, responses=NOT_FOUND)
async def cancel_run(workflow_id: str, run_id: str, identity: Identity, engine: Service) -> RunRead:
    """Stop the run (cooperative; a running one reaches ``cancelled`` within about a second)."""
    return RunRead.of(await engine.cancel(caller_of(identity), workflow_id, run_id))


@router.post("/runs/{run_id}/resume", status_code=202, responses=NOT_FOUND)
async def resume_run(
    workflow_id: str, run_id: str, body: ResumeBody, identity: Identity, engine: Service
) -> RunAccepted:
    """Answer the human-input step an ``interrupted`` run waits on (409 otherwise)."""
    run = await engine.resume(caller_of(identity), workflow_id, run_id, body.input)
    return RunAccepted(run_id=run.id, status=run.status)


@router.post("/runs/{run_id}/retry", status_code=202, responses=NOT_FOUND)
async def retry_run(
    workflow_id: str, run_id: str, identity: Identity, engine: Service
) -> RunAccepted:
    """A new run of the same workflow version, room and input."""
    run = await engine.retry(caller_of(identity), workflow_id, run_id)
    return RunAccepted(run_id=run.id, status=run.status)
