"""The room projection's subscriber: the gateway's room events, from the stream's start."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_contracts.gateway import RoomChangedV1
from coagent_graphrag_ingest.rooms import ROOMS_CONSUMER, RoomProjection
from coagent_kit.broker import subscribe_event
from coagent_kit.logging import get_logger

log = get_logger(__name__)


def register_room_consumers(broker: NatsBroker, rooms: RoomProjection) -> None:
    """Fold every room event into the projection; a deleted room's partition is dropped before
    the event is acknowledged (a failure redelivers it, and dropping again is harmless)."""

    async def on_room_changed(event: RoomChangedV1) -> None:
        room = await rooms.on_room_changed(event)
        log.debug(
            "room_projected", room_id=room.room_id, course_id=room.course_id, deleted=room.deleted
        )

    subscribe_event(broker, RoomChangedV1, ROOMS_CONSUMER, on_room_changed)
