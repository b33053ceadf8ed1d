"""Internal HTTP API of graphrag-query (called by the gateway with an identity token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from coagent_graphrag_query.schemas import BuildStatusRead
from coagent_graphrag_query.service import QueryService
from coagent_kit.auth import Identity

router = APIRouter(prefix="/internal/rooms/{room_id}", tags=["build-status"])


def _service(request: Request) -> QueryService:
    service: QueryService = request.app.state.query
    return service


Service = Annotated[QueryService, Depends(_service)]


@router.get("/build-status")
async def get_build_status(room_id: str, identity: Identity, query: Service) -> BuildStatusRead:
    """Where the build of the room's knowledge graph stands (404 before its first job ended)."""
    return BuildStatusRead.of(await query.build_status(room_id))
