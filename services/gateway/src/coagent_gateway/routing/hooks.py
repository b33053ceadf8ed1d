"""Signed trigger webhooks: outside systems fire a webhook policy without a user session.

Like the A2A webhook, this family is not an ``OWNED`` one (those require a signed-in user): the
HMAC signature over the body is the credential, and the trigger service checks it against the
policy's secret. The identity signed for the trigger service says plainly that no user is
calling. Bodies are capped here, before anything reaches the service, because the route is open
to the internet; the signature headers are passed on untouched.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from coagent_gateway.routing.forward import (
    body_stream,
    capped_body,
    forward,
    forwarded_to,
    quoted_path,
)
from coagent_kit.auth import InternalIdentity

SERVICE = "trigger"
#: The trigger service accepts deliveries of at most 256 KiB; larger ones stop here.
MAX_BODY_BYTES = 256 * 1024
#: Who the trigger service is told is calling: no user (the signature decides).
HOOK_IDENTITY = InternalIdentity(user_id="webhook", platform_role="guest")
HOOK_HEADERS = ("x-coagent-timestamp", "x-coagent-signature", "x-coagent-delivery")


router = APIRouter(prefix="/api/v1/hooks", tags=["webhooks"])


@router.post(
    "/{policy_id}",
    summary="Forwarded to the trigger service",
    response_model=None,
    openapi_extra=forwarded_to(SERVICE, HOOK_HEADERS),
)
async def trigger_hook(policy_id: str, request: Request) -> StreamingResponse:
    """A signed delivery for a webhook policy (no session: the trigger service checks the
    ``X-CoAgent-Signature`` HMAC; 413 ``payload_too_large`` above 256 KiB)."""
    body = await capped_body(request, MAX_BODY_BYTES)
    return await forward(
        request,
        request.app.state.services,
        SERVICE,
        quoted_path(request),
        HOOK_IDENTITY,
        extra_headers=HOOK_HEADERS,
        content=body_stream(body),
    )
