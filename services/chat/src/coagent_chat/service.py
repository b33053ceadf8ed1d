"""Chat use cases: posting to a room, reading its history, persisting agent replies, forgetting."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from coagent_chat.domain import (
    MAX_CLIENT_MSG_ID_CHARS,
    ActivityNotFound,
    Actor,
    HistoryWindow,
    Message,
    MessageNotFound,
    NewMessage,
    RoomActivity,
    check_retry,
    ensure_may_forget,
    record_activity,
)
from coagent_chat.events import PRODUCER, activity_recorded, message_posted, messages_erased
from coagent_chat.metrics import record_stored
from coagent_chat.ports import UnitOfWork, UnitOfWorkFactory
from coagent_contracts.workflow import AgentMessageProducedV1
from coagent_kit.tracing import MESSAGE_ID, ROOM_ID, RUN_ID, Attributes, span

__all__ = [
    "AGENT_REPLIES_CONSUMER",
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "PRODUCER",
    "ChatService",
    "Posted",
    "message_posted",
]

AGENT_REPLIES_CONSUMER = "chat-agent-messages"
MAX_PAGE = 1000
DEFAULT_PAGE = 200


@dataclass(frozen=True)
class Posted:
    """The outcome of a post: ``created`` is False when it was a retry of a stored message."""

    message: Message
    created: bool


class ChatService:
    """Sole writer of room history; every stored or erased message is announced on JetStream."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    async def post(self, message: NewMessage) -> Posted:
        """Store ``message`` and queue its events in one transaction; a retry stores nothing.

        A retry (same sender, room and ``client_msg_id``) returns the original without an event;
        the same key with different content raises ``IdempotencyConflict``.
        """
        with span("chat.store_message", _attributes(message)) as current:
            async with self._uow() as uow:
                stored, created = await uow.messages.append(message)
                current.set_attribute("coagent.retry", not created)
                if not created:
                    return Posted(check_retry(message, stored), created=False)
                await _announce(uow, stored)
                await uow.commit()
            current.set_attributes({MESSAGE_ID: stored.id, "coagent.seq": stored.seq})
        record_stored(stored)
        return Posted(stored, created=True)

    async def post_message(self, message: NewMessage) -> Message:
        """Like :meth:`post`, for callers that do not care whether it was a retry."""
        return (await self.post(message)).message

    async def history(
        self,
        room_id: str,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> list[Message]:
        """A page of the room's history, oldest first (see :class:`HistoryWindow`)."""
        window = HistoryWindow(after_seq, before_seq, min(max(limit, 1), MAX_PAGE))
        async with self._uow() as uow:
            return await uow.messages.window(room_id, window)

    async def activity(self, room_id: str) -> RoomActivity:
        """The room's activity counters; ``ActivityNotFound`` before its first message."""
        async with self._uow() as uow:
            found = await uow.activity.get(room_id)
        if found is None:
            raise ActivityNotFound(f"No activity recorded for room {room_id}")
        return found

    async def forget(self, room_id: str, message_id: str, actor: Actor) -> Message:
        """Erase one message for good and queue its tombstone in the same transaction."""
        async with self._uow() as uow:
            message = await uow.messages.get(room_id, message_id)
            if message is None:
                raise MessageNotFound(f"No message {message_id} in room {room_id}")
            ensure_may_forget(actor, message)
            erased = await uow.messages.delete(room_id, [message_id])
            if not erased:  # erased concurrently (the pruner, another moderator)
                raise MessageNotFound(f"No message {message_id} in room {room_id}")
            await uow.publish(messages_erased(room_id, erased, "forgotten", actor.user_id))
            await uow.commit()
        return erased[0]

    async def record_agent_message(self, event: AgentMessageProducedV1) -> Message | None:
        """Persist an agent's reply exactly once, however often the event is delivered.

        Redeliveries are caught by the event id; a run resumed from a checkpoint that produces
        the same reply again (a new event, the same ``stream_id``) by the idempotency key.
        """
        data = event.data
        attributes = {ROOM_ID: data.room_id, RUN_ID: data.run_id, "coagent.sender_kind": "agent"}
        with span("chat.store_message", attributes):
            async with self._uow() as uow:
                if not await uow.claim(AGENT_REPLIES_CONSUMER, event.event_id):
                    return None
                stored, created = await uow.messages.append(
                    NewMessage(
                        room_id=data.room_id,
                        content=data.content,
                        sender_kind="agent",
                        sender_id=data.agent_id,
                        sender_name=data.agent_name,
                        agent_id=data.agent_id,
                        agent_type=data.agent_type,
                        run_id=data.run_id,
                        offline=data.offline,
                        stream_id=data.stream_id,
                        client_msg_id=_reply_key(data.stream_id),
                    )
                )
                if created:
                    await _announce(uow, stored, causation_id=event.event_id)
                await uow.commit()  # also when not created: the claim is kept
        if created:
            record_stored(stored)
        return stored if created else None


def _attributes(message: NewMessage) -> Attributes:
    return {ROOM_ID: message.room_id, "coagent.sender_kind": message.sender_kind}


def _reply_key(stream_id: str | None) -> str | None:
    """The idempotency key of an agent reply: its stream id, hashed when too long for a key."""
    if stream_id is None or len(stream_id) <= MAX_CLIENT_MSG_ID_CHARS:
        return stream_id
    return "sha256:" + hashlib.sha256(stream_id.encode()).hexdigest()


async def _announce(uow: UnitOfWork, stored: Message, causation_id: str | None = None) -> None:
    """Queue the message's event and the room's new activity in the caller's transaction."""
    posted = message_posted(stored, causation_id=causation_id)
    await uow.publish(posted)
    activity = record_activity(await uow.activity.get(stored.body.room_id), stored)
    await uow.activity.save(activity)
    await uow.publish(activity_recorded(activity, causation_id=posted.event_id))
