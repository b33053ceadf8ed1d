"""JetStream subscribers of the chat service."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_chat.artifacts.run_writes import RUN_WRITES_CONSUMER, RunArtifactWriter
from coagent_chat.forgetting import USER_FORGOTTEN_CONSUMER, UserEraser
from coagent_chat.service import AGENT_REPLIES_CONSUMER, ChatService
from coagent_contracts.gateway import UserForgottenV1
from coagent_contracts.workflow import AgentMessageProducedV1, ArtifactWriteRequestedV1
from coagent_kit.broker import subscribe_event


def register_consumers(
    broker: NatsBroker,
    chat: ChatService,
    run_writes: RunArtifactWriter | None = None,
    eraser: UserEraser | None = None,
) -> None:
    """Agent replies produced by workflow runs become room messages; runs' artifact writes
    are applied to the room's artifacts; a forgotten user's messages are erased."""

    async def on_agent_message(event: AgentMessageProducedV1) -> None:
        await chat.record_agent_message(event)

    subscribe_event(broker, AgentMessageProducedV1, AGENT_REPLIES_CONSUMER, on_agent_message)

    if run_writes is not None:
        writer = run_writes

        async def on_artifact_write(event: ArtifactWriteRequestedV1) -> None:
            await writer.apply(event)

        subscribe_event(broker, ArtifactWriteRequestedV1, RUN_WRITES_CONSUMER, on_artifact_write)

    if eraser is not None:
        erase = eraser

        async def on_user_forgotten(event: UserForgottenV1) -> None:
            await erase.erase(event)

        subscribe_event(broker, UserForgottenV1, USER_FORGOTTEN_CONSUMER, on_user_forgotten)
