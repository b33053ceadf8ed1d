"""``POST /api/v1/rooms/{room_id}/triggers/{id}/dry-run``: replay the room's recent messages.

Served under the room's path so that the gateway checks the caller may read the room before
forwarding (the messages come from chat, which trusts that check), and it says so with the
course role it forwards; platform admins read every room.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from coagent_kit.auth import Identity
from coagent_kit.errors import Forbidden
from coagent_trigger.dry_run import MAX_REPLAYED
from coagent_trigger.dry_run_chat import ChatHistory
from coagent_trigger.dry_run_schemas import DryRunRead
from coagent_trigger.policies import ADMIN_ROLES, Caller, RoomOutOfScope
from coagent_trigger.policy_service import PolicyService

router = APIRouter(prefix="/api/v1/rooms/{room_id}/triggers", tags=["triggers"])


class RoomNotReadable(Forbidden):
    code = "room_not_readable"


def _policies(request: Request) -> PolicyService:
    service: PolicyService = request.app.state.policies
    return service


def _history(request: Request) -> ChatHistory:
    history: ChatHistory = request.app.state.chat_history
    return history


@router.post(
    "/{trigger_id}/dry-run",
    responses={
        403: {"description": "The room was not opened by the gateway (room_not_readable)"},
        404: {"description": "No such trigger, or not the caller's (trigger_not_found)"},
        422: {"description": "Not a message or silence policy, or the room is out of its scope"},
        503: {"description": "Chat could not be read (chat_unavailable)"},
    },
)
async def dry_run_in_room(
    room_id: str,
    trigger_id: str,
    identity: Identity,
    policies: Annotated[PolicyService, Depends(_policies)],
    history: Annotated[ChatHistory, Depends(_history)],
    limit: Annotated[int, Query(ge=1, le=MAX_REPLAYED)] = 50,
) -> DryRunRead:
    """Which firings the policy would have made over the room's latest ``limit`` messages.
    Starts no run and writes nothing."""
    if identity.resource_role is None and identity.platform_role not in ADMIN_ROLES:
        raise RoomNotReadable(f"Room {room_id} was not opened for this caller")
    caller = Caller(user_id=identity.user_id, platform_role=identity.platform_role)
    policy = await policies.get(caller, trigger_id)
    if not await policies.covers(policy, room_id):
        raise RoomOutOfScope(f"Room {room_id} is outside the scope of trigger {trigger_id}")
    messages = await history.recent(room_id, identity, limit)
    return DryRunRead.of(trigger_id, await policies.dry_run(caller, trigger_id, messages))
