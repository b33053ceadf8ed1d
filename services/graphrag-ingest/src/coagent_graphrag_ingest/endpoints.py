"""HTTP API of graphrag-ingest: a room's ingest jobs, forwarded by the gateway with an identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from coagent_graphrag_ingest.schemas import IngestJobRead
from coagent_graphrag_ingest.service import MAX_PAGE, IngestService
from coagent_kit.auth import Identity

router = APIRouter(prefix="/api/v1/graph/{room_id}", tags=["graph"])


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
