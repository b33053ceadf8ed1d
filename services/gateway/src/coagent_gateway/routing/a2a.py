"""The A2A webhook: external agents post into rooms without a user session.

Deliberately not an ``OWNED`` family (those require an authenticated user): an external agent has
no session, it authenticates to the workflow engine with ``X-Agent-ID`` + ``X-Agent-Token``,
which are passed on untouched. The identity signed for the engine says plainly that no user is
calling (``user_id`` ``a2a``, platform role ``guest``), so nothing upstream can mistake the call
for a user's. Bodies are capped here, before anything reaches the engine, because the route is
open to the internet.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from coagent_gateway.routing.forward import body_stream, capped_body, forward, forwarded_to
from coagent_kit.auth import InternalIdentity

SERVICE = "workflow-engine"
#: A message is at most 32 000 characters of content; 64 KiB leaves room for JSON and metadata.
MAX_BODY_BYTES = 64 * 1024
#: Who the engine is told is calling: not a user (the agent token decides, not this identity).
A2A_IDENTITY = InternalIdentity(user_id="a2a", platform_role="guest")
AGENT_HEADERS = ("x-agent-id", "x-agent-token")


router = APIRouter(prefix="/api/v1/a2a", tags=["a2a"])


@router.get(
    "/health",
    summary="Forwarded to the workflow-engine service",
    response_model=None,
    openapi_extra=forwarded_to(SERVICE),
)
async def a2a_health(request: Request) -> StreamingResponse:
    """Public: external agents check the webhook is up."""
    return await forward(
        request, request.app.state.services, SERVICE, "/api/v1/a2a/health", A2A_IDENTITY
    )


@router.post(
    "/webhook",
    summary="Forwarded to the workflow-engine service",
    response_model=None,
    openapi_extra=forwarded_to(SERVICE, AGENT_HEADERS),
)
async def a2a_webhook(request: Request) -> StreamingResponse:
    """An external agent's message into a room (no session: the engine checks the agent token;
    413 ``payload_too_large`` above 64 KiB)."""
    body = await capped_body(request, MAX_BODY_BYTES)
    return await forward(
        request,
        request.app.state.services,
        SERVICE,
        "/api/v1/a2a/webhook",
        A2A_IDENTITY,
        extra_headers=AGENT_HEADERS,
        content=body_stream(body),
    )
