"""Room activity as seen by trigger: pure types and the rules that fold messages into it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from coagent_kit.errors import NotFound

SenderKind = Literal["human", "agent", "system"]


class RoomActivityNotFound(NotFound):
    code = "room_activity_not_found"


@dataclass(frozen=True)
class MessageSeen:
    """The part of a posted message that room activity depends on."""

    room_id: str
    seq: int
    sender_kind: SenderKind
    created_at: datetime


@dataclass(frozen=True)
class RoomActivity:
    """How recently and how much a room has been talking; silence triggers read it.

    ``last_seq`` is the highest room sequence number seen, so a message delivered late (a
    redelivery overtaken by newer ones) can be told apart from a newer one.
    """

    room_id: str
    last_message_at: datetime
    last_human_message_at: datetime | None
    message_count: int
    last_seq: int

    @classmethod
    def first(cls, message: MessageSeen) -> RoomActivity:
        """The activity of a room whose first known message is ``message``."""
        return cls(
            room_id=message.room_id,
            last_message_at=message.created_at,
            last_human_message_at=message.created_at if message.sender_kind == "human" else None,
            message_count=1,
            last_seq=message.seq,
        )

    def observe(self, message: MessageSeen) -> RoomActivity:
        """The activity after one more (not yet counted) message of this room.

        Every message counts, whatever order it arrives in, and neither timestamp ever moves
        backwards. ``last_message_at`` and ``last_seq`` follow the highest ``seq`` only: seq order
        is the room's true order, so an older seq delivered late (a redelivery overtaken by newer
        messages) leaves them alone. A late *human* message may still move
        ``last_human_message_at`` forward when it is newer than the one recorded (a human message
        overtaken by an agent reply): otherwise a silence trigger would see a silence that never
        happened.
        """
        if message.room_id != self.room_id:
            raise ValueError(f"message of room {message.room_id!r} observed in {self.room_id!r}")
        newer = message.seq > self.last_seq
        last_human = self.last_human_message_at
        if message.sender_kind == "human" and (
            last_human is None or message.created_at > last_human
        ):
            last_human = message.created_at
        return replace(
            self,
            # max(): chat stamps created_at when its transaction starts, so two concurrent posts
            # can get seqs in the opposite order of their timestamps.
            last_message_at=(
                max(self.last_message_at, message.created_at) if newer else self.last_message_at
            ),
            last_human_message_at=last_human,
            message_count=self.message_count + 1,
            last_seq=message.seq if newer else self.last_seq,
        )


def fold(current: RoomActivity | None, message: MessageSeen) -> RoomActivity:
    """``current`` updated with ``message``, or the first activity of its room."""
    return RoomActivity.first(message) if current is None else current.observe(message)
