"""``/api/v1/threads``: the agent sandbox the web client's agent view talks to.

Paths and shapes are the client's: ``POST /threads/stateless/{agent_id}`` → ``{reply,
metadata_json}``, ``POST /threads`` (``AgentThreadCreate``), ``GET /threads/{id}``,
``POST``/``GET /threads/{id}/messages``; ``GET /threads`` lists the caller's own threads.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from coagent_kit.auth import Identity
from coagent_workflow_engine.agents.endpoints import caller_of
from coagent_workflow_engine.threads.domain import (
    MAX_MESSAGE_CHARS,
    MAX_METADATA_CHARS,
    MAX_THREAD_MESSAGES,
    Thread,
    ThreadMessage,
)
from coagent_workflow_engine.threads.service import NewThread, ThreadService

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "`thread_not_found`, `agent_not_found`"},
    422: {"description": "`invalid_metadata_json`, `thread_full`, `agent_not_in_project`, …"},
    429: {"description": "`thread_rate_limited` (see `Retry-After`)"},
    502: {"description": "`llm_unavailable`"},
}
router = APIRouter(prefix="/api/v1/threads", tags=["agents"], responses=ERRORS)

Message = Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]
Metadata = Annotated[str, Field(max_length=MAX_METADATA_CHARS)]


class ChatRequestBody(BaseModel):
    """What the client sends to an agent."""

    model_config = ConfigDict(extra="ignore")

    message: Message
    metadata_json: Metadata | None = None


class ChatResponse(BaseModel):
    """A stateless reply; ``metadata_json`` names the provider and says when it was offline."""

    reply: str
    metadata_json: str


class AgentThreadCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, Field(min_length=1, max_length=200)] = "New Thread"
    metadata_json: Metadata = "{}"
    project_id: uuid.UUID | None = None
    agent_id: uuid.UUID


class AgentThreadRead(BaseModel):
    id: str
    name: str
    metadata_json: str
    project_id: str | None
    agent_id: str
    user_id: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, thread: Thread) -> AgentThreadRead:
        return cls(
            id=thread.id,
            name=thread.name,
            metadata_json=thread.metadata_json,
            project_id=thread.project_id,
            agent_id=thread.agent_id,
            user_id=thread.user_id,
            created_at=thread.created_at,
            updated_at=thread.updated_at,
        )


class ThreadMessageRead(BaseModel):
    id: str
    thread_id: str
    role: str
    content: str
    metadata_json: str | None
    created_at: datetime

    @classmethod
    def of(cls, message: ThreadMessage) -> ThreadMessageRead:
        return cls(
            id=message.id,
            thread_id=message.thread_id,
            role=message.role,
            content=message.content,
            metadata_json=message.metadata_json,
            created_at=message.created_at,
        )


def _service(request: Request) -> ThreadService:
    service: ThreadService = request.app.state.threads
    return service


Service = Annotated[ThreadService, Depends(_service)]


@router.post("/stateless/{agent_id}")
async def stateless_chat(
    agent_id: uuid.UUID, body: ChatRequestBody, identity: Identity, threads: Service
) -> ChatResponse:
    """One answer from an agent the caller may use; nothing is stored."""
    reply = await threads.stateless(caller_of(identity), str(agent_id), body.message)
    return ChatResponse(reply=reply.reply, metadata_json=reply.metadata_json)


@router.get("")
@router.get("/", include_in_schema=False)
async def my_threads(
    identity: Identity, threads: Service, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[AgentThreadRead]:
    """The caller's threads, most recently active first."""
    return [AgentThreadRead.of(t) for t in await threads.threads(caller_of(identity), limit)]


@router.post("", status_code=status.HTTP_201_CREATED)
@router.post("/", status_code=status.HTTP_201_CREATED, include_in_schema=False)
async def create_thread(
    body: AgentThreadCreate, identity: Identity, threads: Service
) -> AgentThreadRead:
    """A thread with an agent the caller may use (in ``project_id``, if it has a project)."""
    new = NewThread(
        agent_id=str(body.agent_id),
        project_id=str(body.project_id) if body.project_id else None,
        name=body.name,
        metadata_json=body.metadata_json,
    )
    return AgentThreadRead.of(await threads.create(caller_of(identity), new))


@router.get("/{thread_id}")
async def get_thread(thread_id: uuid.UUID, identity: Identity, threads: Service) -> AgentThreadRead:
    """The caller's own thread (404 ``thread_not_found`` for anyone else's)."""
    return AgentThreadRead.of(await threads.get(caller_of(identity), str(thread_id)))


@router.post("/{thread_id}/messages")
async def post_message(
    thread_id: uuid.UUID, body: ChatRequestBody, identity: Identity, threads: Service
) -> ThreadMessageRead:
    """Ask the thread's agent; answers with the stored assistant reply."""
    answer = await threads.post(
        caller_of(identity), str(thread_id), body.message, body.metadata_json
    )
    return ThreadMessageRead.of(answer)


@router.get("/{thread_id}/messages")
async def thread_messages(
    thread_id: uuid.UUID,
    identity: Identity,
    threads: Service,
    limit: Annotated[int, Query(ge=1, le=MAX_THREAD_MESSAGES)] = MAX_THREAD_MESSAGES,
) -> list[ThreadMessageRead]:
    """The thread's messages, oldest first (the newest ``limit``)."""
    found = await threads.messages(caller_of(identity), str(thread_id), limit)
    return [ThreadMessageRead.of(m) for m in found]
