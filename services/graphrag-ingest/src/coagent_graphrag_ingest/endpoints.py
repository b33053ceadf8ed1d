"""Internal HTTP API of graphrag-ingest (called by the gateway with an identity token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from coagent_graphrag_ingest.schemas import IngestJobRead
from coagent_graphrag_ingest.service import MAX_PAGE, IngestService
from coagent_kit.auth import Identity

router = APIRouter(prefix="/internal/rooms/{room_id}", tags=["ingest"])


def _service(request: Request) -> IngestService:
    service: IngestService = request.app.state.ingest
    return service


Service = Annotated[IngestService, Depends(_service)]


@router.get("/ingest-jobs")
async def list_ingest_jobs(
    room_id: str,
    identity: Identity,
    ingest: Service,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> list[IngestJobRead]:
    """The room's most recent ingest jobs, newest first."""
    return [IngestJobRead.of(job) for job in await ingest.jobs(room_id, limit)]
