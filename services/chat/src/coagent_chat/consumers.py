"""JetStream subscribers of the chat service."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_chat.service import AGENT_REPLIES_CONSUMER, ChatService
from coagent_contracts.workflow import AgentMessageProducedV1
from coagent_kit.broker import subscribe_event


def register_consumers(broker: NatsBroker, chat: ChatService) -> None:
    """Agent replies produced by workflow runs become room messages."""

    async def on_agent_message(event: AgentMessageProducedV1) -> None:
        await chat.record_agent_message(event)

    subscribe_event(broker, AgentMessageProducedV1, AGENT_REPLIES_CONSUMER, on_agent_message)
