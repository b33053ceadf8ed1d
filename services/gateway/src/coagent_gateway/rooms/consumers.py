"""JetStream subscribers of the room feature."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_contracts.workflow import RoomWorkflowAttachedV1
from coagent_gateway.rooms.service import RoomService
from coagent_kit.broker import subscribe_event

ROOM_WORKFLOW_CONSUMER = "gateway-room-workflows"


def register_room_consumers(broker: NatsBroker, rooms: RoomService) -> None:
    """The engine's room-workflow upsert attaches a workflow it created; the gateway, which owns
    the room's ``attached_workflow_id``, records it and announces the room's new state."""

    async def on_workflow_attached(event: RoomWorkflowAttachedV1) -> None:
        await rooms.on_workflow_attached(event)

    subscribe_event(broker, RoomWorkflowAttachedV1, ROOM_WORKFLOW_CONSUMER, on_workflow_attached)
