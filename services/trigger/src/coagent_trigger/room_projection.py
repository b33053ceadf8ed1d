"""Keeping the room projection: the gateway's room events folded into one row per room."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from coagent_contracts.gateway import RoomChangedV1
from coagent_trigger.ports import UnitOfWorkFactory
from coagent_trigger.rooms import RoomView, view_of

ROOMS_CONSUMER = "trigger-rooms"


class RoomProjection:
    """Keeps the room projection from the gateway's room events."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock

    async def on_room_changed(self, event: RoomChangedV1) -> bool:
        """Apply one event exactly once; an event older than the row's state changes nothing
        (redeliveries and out-of-order deliveries cannot roll a room back)."""
        async with self._uow() as uow:
            if not await uow.claim(ROOMS_CONSUMER, event.event_id):
                return False
            applied = await uow.rooms.apply(view_of(event))
            await uow.commit()
        return applied

    async def get(self, room_id: str) -> RoomView | None:
        """The room as last seen, if any event about it arrived."""
        async with self._uow() as uow:
            return await uow.rooms.get(room_id)
