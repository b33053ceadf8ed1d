"""Internal HTTP API of the trigger service (called by the gateway with an identity token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from coagent_kit.auth import Identity
from coagent_trigger.schemas import RoomActivityRead
from coagent_trigger.service import TriggerService

router = APIRouter(prefix="/internal/rooms/{room_id}", tags=["room activity"])


def _service(request: Request) -> TriggerService:
    service: TriggerService = request.app.state.trigger
    return service


Service = Annotated[TriggerService, Depends(_service)]


@router.get("/activity", responses={404: {"description": "No message of the room seen yet"}})
async def get_room_activity(room_id: str, identity: Identity, trigger: Service) -> RoomActivityRead:
    """When the room last talked (any sender, and humans only) and how many messages it has."""
    return RoomActivityRead.of(await trigger.room_activity(room_id))
