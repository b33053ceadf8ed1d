"""Sandbox conversations: a user tries an agent before putting it in a room.

Unlike the reference (F7), a caller reaches only agents they may use (their own, shared
templates and system agents; platform admins any), only their own threads, and spends a stored
key only on an agent they manage: the agent's own keys, then their own wallet keys by the
wallet's rules. Anyone else's sandbox call runs on the offline provider, which the reply's
metadata says. Messages are bounded in size, per thread and per user per minute.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coagent_contracts.envelope import uuid7
from coagent_kit.errors import ServiceError
from coagent_workflow_engine.agents.domain import Agent, AgentNotFound, Caller, can_manage, can_use
from coagent_workflow_engine.agents.keys import KeyService
from coagent_workflow_engine.agents.ports import AgentsUnitOfWorkFactory
from coagent_workflow_engine.llm import (
    AuthenticationFailed,
    ChatMessage,
    ChatModel,
    ChatRequest,
    Completion,
    LLMError,
    model_for,
)
from coagent_workflow_engine.threads.domain import (
    MAX_HISTORY,
    MAX_THREAD_MESSAGES,
    AgentNotInProject,
    ExternalAgentUnsupported,
    RateLimiter,
    Thread,
    ThreadFull,
    ThreadMessage,
    ThreadNotFound,
    checked_metadata,
)
from coagent_workflow_engine.threads.ports import ThreadStore

#: Builds the model for one call: (agent, key or None, tenant) → model.
ModelFactory = Callable[[Agent, str | None, str], ChatModel]


def default_models(agent: Agent, api_key: str | None, tenant: str) -> ChatModel:
    """``llm.model_for`` with the agent's provider, model and optional base URL."""
    base_url = agent.settings.get("base_url")
    return model_for(
        agent.model_provider,
        agent.model,
        api_key,
        base_url if isinstance(base_url, str) else None,
        tenant,
    )


@dataclass(frozen=True)
class Reply:
    """A stateless answer: the text and who produced it (as JSON text, like the client's)."""

    reply: str
    metadata_json: str


@dataclass(frozen=True)
class NewThread:
    agent_id: str
    project_id: str | None
    name: str
    metadata_json: str


class ThreadService:
    def __init__(
        self,
        store: ThreadStore,
        agents: AgentsUnitOfWorkFactory,
        keys: KeyService,
        *,
        models: ModelFactory = default_models,
        limiter: RateLimiter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store, self._agents, self._keys = store, agents, keys
        self._models, self._clock = models, clock
        self._limiter = limiter or RateLimiter()

    async def stateless(self, caller: Caller, agent_id: str, text: str) -> Reply:
        """One question, one answer, nothing stored."""
        agent = await self._usable(caller, agent_id)
        self._limiter.admit(caller.user_id)
        completion = await self._answer(caller, agent, [], text)
        return Reply(completion.text, json.dumps(_metadata(agent, completion)))

    async def create(self, caller: Caller, new: NewThread) -> Thread:
        agent = await self._usable(caller, new.agent_id)
        if new.project_id is not None and agent.project_id not in (None, new.project_id):
            raise AgentNotInProject("The agent belongs to another project")
        now = self._clock()
        thread = Thread(
            id=str(uuid7()),
            user_id=caller.user_id,
            agent_id=agent.id,
            project_id=new.project_id,
            name=new.name,
            metadata_json=checked_metadata(new.metadata_json) or "{}",
            created_at=now,
            updated_at=now,
        )
        await self._store.add_thread(thread)
        return thread

    async def get(self, caller: Caller, thread_id: str) -> Thread:
        """The caller's own thread; anyone else's is "not found" (404), never 403."""
        thread = await self._store.thread(thread_id)
        if thread is None or thread.user_id != caller.user_id:
            raise ThreadNotFound("Thread not found")
        return thread

    async def threads(self, caller: Caller, limit: int) -> list[Thread]:
        return await self._store.threads_of(caller.user_id, limit)

    async def messages(self, caller: Caller, thread_id: str, limit: int) -> list[ThreadMessage]:
        thread = await self.get(caller, thread_id)
        return await self._store.messages(thread.id, limit)

    async def post(
        self, caller: Caller, thread_id: str, text: str, metadata_json: str | None
    ) -> ThreadMessage:
        """Answer ``text`` in the thread; the user turn and the reply are stored together."""
        thread = await self.get(caller, thread_id)
        metadata = checked_metadata(metadata_json)
        agent = await self._usable(caller, thread.agent_id)
        if await self._store.count(thread.id) + 2 > MAX_THREAD_MESSAGES:
            raise ThreadFull(f"A thread holds at most {MAX_THREAD_MESSAGES} messages")
        self._limiter.admit(caller.user_id)
        depth = min(max(agent.context_window, 1) * 2, MAX_HISTORY)
        history = await self._store.messages(thread.id, depth)
        asked_at = self._clock()
        completion = await self._answer(caller, agent, history, text)
        question = ThreadMessage(str(uuid7()), thread.id, "user", text, metadata, asked_at)
        answer = ThreadMessage(
            str(uuid7()),
            thread.id,
            "assistant",
            completion.text,
            json.dumps(_metadata(agent, completion)),
            max(self._clock(), asked_at),
        )
        await self._store.add_turn(thread, question, answer)
        return answer

    # -- internals ------------------------------------------------------------------------------

    async def _usable(self, caller: Caller, agent_id: str) -> Agent:
        async with self._agents() as uow:
            agent = await uow.agents.get(agent_id)
        if agent is None or not can_use(caller, agent):
            raise AgentNotFound("Agent not found")
        if agent.is_external or agent.model_provider == "external":
            raise ExternalAgentUnsupported("External agents answer in rooms, not in threads")
        return agent

    async def _key(self, caller: Caller, agent: Agent) -> str | None:
        # Using a shared template or a system agent never spends its owner's keys.
        if not can_manage(caller, agent):
            return None
        found = await self._keys.resolve_key(agent, caller.user_id)
        return found[1] if found else None

    async def _answer(
        self, caller: Caller, agent: Agent, history: list[ThreadMessage], text: str
    ) -> Completion:
        model = self._models(agent, await self._key(caller, agent), caller.user_id)
        system = agent.system_prompt or f"You are {agent.name}."
        messages = [ChatMessage(role="system", content=system)]
        messages += [ChatMessage(role=m.role, content=m.content) for m in history]
        messages.append(ChatMessage(role="user", content=text))
        temperature = agent.settings.get("temperature")
        request = ChatRequest(
            messages=messages,
            model=agent.model,
            temperature=temperature if isinstance(temperature, int | float) else None,
        )
        try:
            return await model.complete(request)
        except AuthenticationFailed as exc:
            raise ServiceError(
                "The agent's provider key was refused", code="invalid_api_key", status=400
            ) from exc
        except LLMError as exc:
            raise ServiceError(
                f"The model provider did not answer: {exc}", code="llm_unavailable", status=502
            ) from exc


def _metadata(agent: Agent, completion: Completion) -> dict[str, Any]:
    return {
        "agent_id": agent.id,
        "agent_version": agent.version,
        "provider": completion.provider,
        "model": completion.model,
        "offline": completion.offline,
        "tokens": completion.usage.total_tokens,
        "cost_usd": completion.cost_usd,
    }
