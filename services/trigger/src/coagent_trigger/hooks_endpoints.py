"""``POST /api/v1/hooks/{policy_id}``: signed webhook deliveries, forwarded by the gateway.

The gateway forwards this path without a user session (the signature is the credential) but
still signs an identity for this service, so only the gateway reaches it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel

from coagent_kit.auth import Identity
from coagent_trigger.hooks import (
    DELIVERY_HEADER,
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    PayloadTooLarge,
)
from coagent_trigger.hooks_service import WebhookService
from coagent_trigger.policies import FiringOutcome

router = APIRouter(prefix="/api/v1/hooks", tags=["webhooks"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Missing or malformed delivery id (invalid_delivery_id)"},
    401: {
        "description": "Bad or missing signature (invalid_signature), or a timestamp "
        "outside the replay window (stale_timestamp)"
    },
    404: {"description": "No such webhook policy (trigger_not_found)"},
    409: {"description": "The policy is not active (trigger_inactive)"},
    413: {"description": "Body above 256 KiB (payload_too_large)"},
}


class HookAccepted(BaseModel):
    """The delivery's firing; ``duplicate`` when the delivery id was seen before."""

    firing_id: str
    firing_key: str
    outcome: FiringOutcome
    duplicate: bool


def _service(request: Request) -> WebhookService:
    service: WebhookService = request.app.state.hooks
    return service


async def _capped_body(request: Request) -> bytes:
    """The raw body (the signature covers its exact bytes), refused above the cap."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Request body exceeds {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"Request body exceeds {MAX_BODY_BYTES} bytes")
    return bytes(body)


@router.post("/{policy_id}", status_code=status.HTTP_202_ACCEPTED, responses=ERRORS)
async def receive_hook(
    policy_id: str,
    request: Request,
    _identity: Identity,
    hooks: Annotated[WebhookService, Depends(_service)],
) -> HookAccepted:
    """Fire a webhook policy once per delivery id; the run starts asynchronously."""
    delivery = Delivery(
        body=await _capped_body(request),
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        delivery_id=request.headers.get(DELIVERY_HEADER),
    )
    received = await hooks.receive(policy_id, delivery, request.headers.get("content-type"))
    return HookAccepted(
        firing_id=received.firing.id,
        firing_key=received.firing.firing_key,
        outcome=received.firing.outcome,
        duplicate=received.duplicate,
    )
