"""Gateway HTTP routes available at this stage: the fleet's health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from coagent_gateway.service import GatewayService

router = APIRouter(prefix="/api/v1", tags=["health"])


def _service(request: Request) -> GatewayService:
    service: GatewayService = request.app.state.gateway
    return service


Service = Annotated[GatewayService, Depends(_service)]


@router.get("/healthz")
async def fleet_health(gateway: Service) -> JSONResponse:
    """200 once every service and dependency is ready, 503 with the same body otherwise."""
    ready, body = await gateway.fleet_health()
    return JSONResponse(body, status_code=200 if ready else 503)
