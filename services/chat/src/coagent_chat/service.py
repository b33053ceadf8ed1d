"""Chat use cases: posting to a room, reading its history, persisting agent replies."""

from __future__ import annotations

from coagent_chat.domain import Message, NewMessage
from coagent_chat.ports import UnitOfWorkFactory
from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_contracts.workflow import AgentMessageProducedV1

PRODUCER = "chat"
AGENT_REPLIES_CONSUMER = "chat-agent-messages"
MAX_PAGE = 500


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
            content=body.content,
            thread_id=body.thread_id,
            mentions=body.mentions,
            created_at=message.created_at,
        ),
    )


class ChatService:
    """Sole writer of room history; every stored message is announced on JetStream."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    async def post_message(self, message: NewMessage) -> Message:
        """Store ``message`` and queue its event in the same transaction."""
        async with self._uow() as uow:
            stored = await uow.messages.append(message)
            await uow.publish(message_posted(stored))
            await uow.commit()
        return stored

    async def history(self, room_id: str, after_seq: int = 0, limit: int = 100) -> list[Message]:
        """A page of the room's history after ``after_seq``."""
        async with self._uow() as uow:
            return await uow.messages.list_after(room_id, after_seq, min(max(limit, 1), MAX_PAGE))

    async def record_agent_message(self, event: AgentMessageProducedV1) -> Message | None:
        """Persist an agent's reply exactly once, however often the event is delivered."""
        data = event.data
        if data.room_id is None:
            return None
        async with self._uow() as uow:
            if not await uow.claim(AGENT_REPLIES_CONSUMER, event.event_id):
                return None
            stored = await uow.messages.append(
                NewMessage(
                    room_id=data.room_id,
                    content=data.content,
                    sender_kind="agent",
                    sender_id=data.agent_id,
                    sender_name=data.agent_name,
                    agent_id=data.agent_id,
                )
            )
            await uow.publish(message_posted(stored, causation_id=event.event_id))
            await uow.commit()
        return stored
