"""The integration events chat publishes, built from its domain objects."""

from __future__ import annotations

from coagent_chat.domain import Message, RoomActivity
from coagent_contracts.chat import (
    ForgetReason,
    MessagePostedData,
    MessagePostedV1,
    MessagesErasedData,
    MessagesErasedV1,
    RoomActivityRecordedData,
    RoomActivityRecordedV1,
)

PRODUCER = "chat"


def message_posted(message: Message, causation_id: str | None = None) -> MessagePostedV1:
    """The integration event announcing a stored message."""
    body = message.body
    return MessagePostedV1(
        producer=PRODUCER,
        causation_id=causation_id,
        data=MessagePostedData(
            message_id=message.id,
            room_id=body.room_id,
            seq=message.seq,
            sender_id=body.sender_id,
            sender_kind=body.sender_kind,
            sender_name=body.sender_name,
            agent_id=body.agent_id,
            agent_type=body.agent_type,
            run_id=body.run_id,
            offline=body.offline,
            stream_id=body.stream_id,
            client_msg_id=body.client_msg_id,
            content=body.content,
            thread_id=body.thread_id,
            mentions=body.mentions,
            created_at=message.created_at,
        ),
    )


def activity_recorded(
    activity: RoomActivity, causation_id: str | None = None
) -> RoomActivityRecordedV1:
    """The room's counters after a message was stored (silence triggers read these)."""
    return RoomActivityRecordedV1(
        producer=PRODUCER,
        causation_id=causation_id,
        data=RoomActivityRecordedData(
            room_id=activity.room_id,
            last_message_at=activity.last_message_at,
            last_human_message_at=activity.last_human_message_at,
            last_agent_message_at=activity.last_agent_message_at,
            message_count=activity.message_count,
            human_message_count=activity.human_message_count,
            agent_message_count=activity.agent_message_count,
            last_seq=activity.last_seq,
            last_sender_kind=activity.last_sender_kind,
        ),
    )


def messages_erased(
    room_id: str,
    erased: list[Message],
    reason: ForgetReason,
    by: str | None = None,
    causation_id: str | None = None,
) -> MessagesErasedV1:
    """Tombstone for messages removed from the room, so every copy elsewhere goes too."""
    return MessagesErasedV1(
        producer=PRODUCER,
        causation_id=causation_id,
        data=MessagesErasedData(
            room_id=room_id,
            message_ids=tuple(m.id for m in erased),
            seqs=tuple(m.seq for m in erased),
            reason=reason,
            forgotten_by=by,
        ),
    )
