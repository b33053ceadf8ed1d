"""External agents posting into rooms (A2A webhook) and their callback tokens.

Fixes over the reference (seed-api §2.8, §4.14, F6, F23): the token is required (no "no token, no
check"), kept only as a SHA-256 hash and compared in constant time; it is shown once, when issued;
the agent must be assigned (active) to the room it posts into; and the message is not broadcast
on a socket and lost but published through the outbox as ``AgentMessageProducedV1``, so chat
stores it like any agent reply and every socket of the room shows it.

The contract's ``AgentMessageProducedData`` is a *run* event: it requires a run id and a workflow
id. An A2A message belongs to no run, so it carries honest synthetic values, ``run_id`` =
``a2a-<uuid7>`` (one per message) and ``workflow_id`` = ``a2a``, ``workflow_version`` 1; no run
or workflow of these ids exists in the engine.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from coagent_contracts.envelope import new_event_id, uuid7
from coagent_contracts.workflow import AgentMessageProducedData, AgentMessageProducedV1
from coagent_kit.errors import BadRequest, Forbidden, Unauthorized
from coagent_workflow_engine.agents.domain import (
    Agent,
    AgentNotFound,
    Caller,
    callback_token_matches,
    issue_callback_token,
)
from coagent_workflow_engine.agents.ports import AgentsUnitOfWorkFactory
from coagent_workflow_engine.agents.service import managed_agent
from coagent_workflow_engine.lifecycle import PRODUCER

Clock = Callable[[], datetime]

#: Inbox consumer name under which idempotency keys of A2A messages are claimed.
A2A_CONSUMER = "workflow-engine:a2a-webhook"
#: Namespace of the deterministic event ids of keyed messages (a repeat gets the same id).
_A2A_NAMESPACE = uuid.UUID("0b8f4c1e-2a6d-5e7f-9c3b-a2a000000001")
A2A_WORKFLOW_ID = "a2a"


class NotExternal(BadRequest):
    code = "not_external"


class InvalidAgentToken(Unauthorized):
    code = "invalid_agent_token"


class AgentNotInRoom(Forbidden):
    code = "agent_not_in_room"


@dataclass(frozen=True)
class A2AMessage:
    """A validated webhook payload (the HTTP layer has turned ``content`` into text)."""

    room_id: str
    message_type: str
    content: str
    correlation_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class A2AReceipt:
    """What the webhook answers: the event id, and whether this was a repeat of a keyed post."""

    message_id: str
    duplicate: bool = False


class A2AService:
    """Issues callback tokens and turns authenticated webhook posts into room messages."""

    def __init__(
        self, unit_of_work: AgentsUnitOfWorkFactory, clock: Clock = lambda: datetime.now(UTC)
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock

    async def rotate(self, caller: Caller, agent_id: str) -> str:
        """A new token for an external agent the caller manages; the old one stops working."""
        async with self._uow() as uow:
            agent = await managed_agent(uow, caller, agent_id)
            if not agent.is_external:
                raise NotExternal("Only external agents have a callback token")
            agent, token = issue_callback_token(agent)
            assert token is not None  # the agent is external
            await uow.agents.update(replace(agent, updated_at=self._clock()))
            await uow.commit()
        return token

    async def receive(self, agent_id: str, token: str, message: A2AMessage) -> A2AReceipt:
        """Authenticate the agent, check its room, publish its message (once per key)."""
        async with self._uow() as uow:
            agent = await uow.agents.get(agent_id)
            if agent is None or not agent.is_external:
                raise AgentNotFound("External agent not found")
            if not callback_token_matches(agent.callback_token_hash, token):
                raise InvalidAgentToken("Invalid agent token")
            assignment = await uow.room_agents.get(message.room_id, agent_id)
            if assignment is None or not assignment.is_active:
                raise AgentNotInRoom("This agent is not assigned to the room")
            key = message.idempotency_key
            if key is None:
                event_id = new_event_id()
            else:
                event_id = str(uuid.uuid5(_A2A_NAMESPACE, f"{agent_id}\n{key}"))
                if not await uow.claim(A2A_CONSUMER, event_id):
                    return A2AReceipt(event_id, duplicate=True)
            await uow.publish(_event(agent, message, event_id))
            await uow.commit()
        return A2AReceipt(event_id)


def _event(agent: Agent, message: A2AMessage, event_id: str) -> AgentMessageProducedV1:
    metadata: dict[str, Any] = {
        "a2a": True,
        "message_type": message.message_type,
        "correlation_id": message.correlation_id,
    }
    # Chat dedupes agent replies by (room, agent, stream id): a second line of defence behind
    # the claim, should the engine's inbox ever be pruned while an agent still retries. A keyed
    # message's event id is already derived from (agent, key), and chat's column holds 64
    # characters, so the stream id is built from it rather than from the raw agent id and key.
    return AgentMessageProducedV1(
        event_id=event_id,
        producer=PRODUCER,
        correlation_id=message.correlation_id,
        data=AgentMessageProducedData(
            run_id=f"a2a-{uuid7()}",
            workflow_id=A2A_WORKFLOW_ID,
            workflow_version=1,
            room_id=message.room_id,
            agent_id=agent.id,
            agent_name=agent.name,
            agent_type="external",
            stream_id=f"a2a.{event_id}",
            content=message.content,
            metadata=metadata,
        ),
    )
