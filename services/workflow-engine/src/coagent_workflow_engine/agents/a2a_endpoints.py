"""The /api/v1/a2a routes: the webhook external agents post into rooms with, and a health check.

The gateway forwards these without a user session; the caller is an agent, authenticated here by
``X-Agent-ID`` + ``X-Agent-Token`` (the signed identity only proves the call came through the
gateway and grants nothing). Only room broadcasts are supported: the reference's direct
agent-to-agent dispatch (POSTing to another agent's webhook) is out of scope, so any other
``recipient_id`` is refused with 422 ``unsupported_recipient`` rather than silently dropped.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, status
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from coagent_kit.auth import Identity
from coagent_kit.errors import BadRequest, Unprocessable
from coagent_workflow_engine.agents.a2a import A2AMessage
from coagent_workflow_engine.agents.endpoints import Api

MessageType = Literal[
    "user_message", "proposal", "evaluation_request", "evaluation_result", "broadcast", "system"
]
MAX_CONTENT_CHARS = 32_000
Key = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _as_text(value: Any) -> Any:
    """Strings as they are; any other JSON value as compact JSON text (what chat stores)."""
    if isinstance(value, str):
        if not value.strip():  # chat refuses blank messages: say so now, not in a dead letter
            raise ValueError("content must not be blank")
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class A2AMetadata(BaseModel):
    """Where the message goes; other keys are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    room_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class A2AWebhookPayload(BaseModel):
    """The reference's ``A2AWebhookPayload``; ``sender_id`` is accepted but never trusted (the
    sender is the authenticated agent), ``id`` is an idempotency key per agent."""

    model_config = ConfigDict(extra="ignore")

    id: Key | None = None
    type: MessageType = "broadcast"
    sender_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    recipient_id: Annotated[str, StringConstraints(max_length=200)] = "broadcast"
    content: Annotated[
        str,
        BeforeValidator(_as_text),
        StringConstraints(min_length=1, max_length=MAX_CONTENT_CHARS),
    ]
    correlation_id: uuid.UUID | None = None
    metadata: A2AMetadata


class A2AWebhookResponse(BaseModel):
    success: bool = True
    message_id: str
    dispatched: bool = True
    #: True when an earlier post with the same ``id`` / Idempotency-Key was already dispatched.
    duplicate: bool = False


class MissingAgentHeader(BadRequest):
    code = "missing_agent_header"


class InvalidAgentId(BadRequest):
    code = "invalid_agent_id"


class UnsupportedRecipient(Unprocessable):
    code = "unsupported_recipient"


router = APIRouter(prefix="/api/v1/a2a", tags=["a2a"])


@router.get("/health")
async def a2a_health() -> dict[str, str]:
    """Public liveness of the webhook for external agents."""
    return {"status": "ok", "timestamp": datetime.now(UTC).isoformat()}


@router.post(
    "/webhook",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        400: {"description": "missing_agent_header or invalid_agent_id"},
        401: {"description": "invalid_agent_token"},
        403: {"description": "agent_not_in_room"},
        404: {"description": "agent_not_found"},
        422: {"description": "validation_error or unsupported_recipient"},
    },
)
async def a2a_webhook(
    body: A2AWebhookPayload,
    identity: Identity,
    api: Api,
    x_agent_id: Annotated[str | None, Header()] = None,
    x_agent_token: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[Key | None, Header()] = None,
) -> A2AWebhookResponse:
    """An external agent's message, posted into ``metadata.room_id`` as that agent."""
    del identity  # required (the call came through the gateway), but the agent token decides
    if not x_agent_id:
        raise MissingAgentHeader("X-Agent-ID header required")
    try:
        agent_id = str(uuid.UUID(x_agent_id))
    except ValueError as exc:
        raise InvalidAgentId("Invalid X-Agent-ID format") from exc
    if body.recipient_id != "broadcast":
        raise UnsupportedRecipient("Only recipient_id 'broadcast' (the room) is supported")
    message = A2AMessage(
        room_id=body.metadata.room_id,
        message_type=body.type,
        content=body.content,
        correlation_id=str(body.correlation_id) if body.correlation_id else None,
        idempotency_key=body.id or idempotency_key,
    )
    receipt = await api.a2a.receive(agent_id, x_agent_token or "", message)
    return A2AWebhookResponse(message_id=receipt.message_id, duplicate=receipt.duplicate)
