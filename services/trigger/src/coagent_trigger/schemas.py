"""HTTP shapes of the trigger service's internal API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from coagent_trigger.domain import RoomActivity


class RoomActivityRead(BaseModel):
    """How recently and how much a room has been talking, as trigger knows it."""

    room_id: str
    last_message_at: datetime
    last_human_message_at: datetime | None
    message_count: int
    last_seq: int

    @classmethod
    def of(cls, activity: RoomActivity) -> RoomActivityRead:
        """The HTTP view of a room's activity."""
        return cls(
            room_id=activity.room_id,
            last_message_at=activity.last_message_at,
            last_human_message_at=activity.last_human_message_at,
            message_count=activity.message_count,
            last_seq=activity.last_seq,
        )
