"""Subscribers that keep the trigger's view of the gateway's rooms current."""

from __future__ import annotations

from typing import Any

from faststream.nats import NatsBroker, NatsMessage

from coagent_contracts.gateway import RoomChangedV1
from coagent_kit.broker import subscribe_event
from coagent_trigger.room_projection import ROOMS_CONSUMER, RoomProjection
from coagent_trigger.rooms import AccessChecker

#: Every room event of the gateway: room changes and membership changes.
ROOM_EVENTS = "gateway.room.>"


def register_room_consumers(
    broker: NatsBroker, projection: RoomProjection, access: AccessChecker
) -> None:
    """The projection is a durable consumer (one replica applies each event, from the stream's
    history on first start); cache invalidation is a plain subscription, so that every replica,
    each with its own cache, hears every change of a room's settings or membership."""

    async def on_room_changed(event: RoomChangedV1) -> None:
        await projection.on_room_changed(event)
        access.invalidate(event.data.room_id)

    subscribe_event(broker, RoomChangedV1, ROOMS_CONSUMER, on_room_changed)

    @broker.subscriber(ROOM_EVENTS, title="trigger:room-access-invalidation")
    async def invalidate(body: Any, msg: NatsMessage) -> None:
        # gateway.room.<room_id>.…: the room is the third token of every such subject.
        tokens = msg.raw_message.subject.split(".")
        if len(tokens) > 2:
            access.invalidate(tokens[2])

    _ = invalidate
