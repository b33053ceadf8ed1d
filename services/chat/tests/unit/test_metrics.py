"""Messages stored are counted once each, by sender kind; retries and redeliveries are not."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import REGISTRY

from coagent_chat.domain import NewMessage
from coagent_chat.service import ChatService
from coagent_contracts.workflow import AgentMessageProducedV1


def _stored(kind: str) -> float:
    return (
        REGISTRY.get_sample_value("coagent_chat_messages_stored_total", {"sender_kind": kind})
        or 0.0
    )


async def test_stored_messages_are_counted_once_by_sender_kind(
    service: ChatService, agent_reply: Callable[..., AgentMessageProducedV1]
) -> None:
    humans, agents = _stored("human"), _stored("agent")
    message = NewMessage(
        room_id="r1", content="hi", sender_kind="human", sender_id="u1", client_msg_id="k1"
    )
    await service.post(message)
    await service.post(message)  # a retry of the same post stores nothing
    reply = agent_reply("r1", "the answer")
    await service.record_agent_message(reply)
    await service.record_agent_message(reply)  # a redelivery stores nothing

    assert _stored("human") == humans + 1
    assert _stored("agent") == agents + 1
