"""Fixtures shared by the chat tests: sample events and a memory-backed service and app."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from coagent_chat.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_chat.artifacts.endpoints import internal_router as artifacts_internal_router
from coagent_chat.artifacts.endpoints import router as artifacts_router
from coagent_chat.artifacts.service import ArtifactService
from coagent_chat.endpoints import router
from coagent_chat.retention import RetentionService
from coagent_chat.service import ChatService
from coagent_chat.settings import ChatSettings
from coagent_contracts.workflow import AgentMessageProducedData, AgentMessageProducedV1
from coagent_kit.app import build_app

SECRET = "test-internal-secret-0123456789abcdefghij"

AgentReply = Callable[..., AgentMessageProducedV1]


@pytest.fixture
def agent_reply() -> AgentReply:
    """Build an ``AgentMessageProducedV1``: ``agent_reply(room_id="r1", content="hello")``."""

    def make(room_id: str = "r1", content: str = "hello from the agent") -> AgentMessageProducedV1:
        return AgentMessageProducedV1(
            producer="workflow-engine",
            data=AgentMessageProducedData(
                run_id=f"run-{uuid.uuid4().hex[:8]}",
                workflow_id="w1",
                workflow_version=1,
                room_id=room_id,
                agent_id="a1",
                agent_name="Helper",
                content=content,
            ),
        )

    return make


@pytest.fixture
def store() -> MemoryStore:
    """Committed state of the memory adapters."""
    return MemoryStore()


@pytest.fixture
def service(store: MemoryStore) -> ChatService:
    """The chat service on memory adapters."""
    return ChatService(lambda: MemoryUnitOfWork(store))


@pytest.fixture
def retention(store: MemoryStore) -> RetentionService:
    """Retention settings and pruning on the same memory store, with no fleet default."""
    return RetentionService(lambda: MemoryUnitOfWork(store))


@pytest.fixture
def artifact_service(store: MemoryStore) -> ArtifactService:
    """The artifact use cases on the same memory store as ``service``."""
    return ArtifactService(lambda: MemoryUnitOfWork(store))


@pytest.fixture
def settings() -> ChatSettings:
    """Test settings with a known internal-token secret (32+ bytes for PyJWT)."""
    return ChatSettings(env="test", internal_token_secret=SecretStr(SECRET))


@pytest.fixture
def memory_app(
    settings: ChatSettings,
    service: ChatService,
    artifact_service: ArtifactService,
    retention: RetentionService,
) -> FastAPI:
    """The chat HTTP API over the memory-backed service (no broker, no database)."""
    app = build_app(settings, title="CoAgent chat (memory)", lifespan=None)
    app.state.chat = service
    app.state.retention = retention
    app.include_router(router)
    app.state.artifacts = artifact_service
    app.include_router(artifacts_router)
    app.include_router(artifacts_internal_router)
    return app
