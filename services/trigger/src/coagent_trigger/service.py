"""Trigger use cases: keeping the room-activity projection that silence triggers read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from coagent_contracts.chat import MessagePostedV1
from coagent_trigger.domain import MessageSeen, RoomActivity, RoomActivityNotFound, fold
from coagent_trigger.ports import UnitOfWorkFactory
from coagent_trigger.time_triggers import rearm_silences_of_room

PRODUCER = "trigger"
ROOM_ACTIVITY_CONSUMER = "trigger-room-activity"


class TriggerService:
    """Turns room events into the state trigger policies decide on."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock

    async def record_message(self, event: MessagePostedV1) -> RoomActivity | None:
        """Fold a posted message into its room's activity exactly once per event.

        Returns the new activity, or ``None`` when the event was already applied (a redelivery).
        A newer human message re-arms the room's silence timers in the same transaction, so the
        projection and the armed schedules cannot disagree after a crash.
        """
        data = event.data
        seen = MessageSeen(
            room_id=data.room_id,
            seq=data.seq,
            sender_kind=data.sender_kind,
            created_at=data.created_at,
        )
        async with self._uow() as uow:
            if not await uow.claim(ROOM_ACTIVITY_CONSUMER, event.event_id):
                return None
            current = await uow.activity.get(seen.room_id, for_update=True)
            updated = fold(current, seen)
            await uow.activity.save(updated)
            before = current.last_human_message_at if current else None
            if updated.last_human_message_at != before:
                await rearm_silences_of_room(uow, updated, self._clock())
            await uow.commit()
        return updated

    async def room_activity(self, room_id: str) -> RoomActivity:
        """The activity of ``room_id``; raises :class:`RoomActivityNotFound` if none is known."""
        async with self._uow() as uow:
            activity = await uow.activity.get(room_id)
        if activity is None:
            raise RoomActivityNotFound(f"No activity is known for room {room_id}")
        return activity
