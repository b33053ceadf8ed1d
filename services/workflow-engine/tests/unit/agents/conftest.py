"""Shared helpers of the agents unit tests: a memory-backed app and identity headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_workflow_engine.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_workflow_engine.agents.crypto import KeyCipher
from coagent_workflow_engine.agents.endpoints import AgentsApi
from coagent_workflow_engine.agents.routes import build_agents_api
from coagent_workflow_engine.agents.routes import router as agents_router
from coagent_workflow_engine.settings import WorkflowEngineSettings

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def cipher(fernet_key: str) -> KeyCipher:
    return KeyCipher([fernet_key])


@pytest.fixture
def api(store: MemoryStore, clock: Callable[[], datetime], cipher: KeyCipher) -> AgentsApi:
    return build_agents_api(lambda: MemoryUnitOfWork(store), cipher, clock)


@pytest.fixture
def agents_app(settings: WorkflowEngineSettings, api: AgentsApi) -> FastAPI:
    app = build_app(settings, title="agents (memory)")
    app.state.agents = api
    app.include_router(agents_router)
    return app


@pytest.fixture
async def client(agents_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=agents_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
        yield http


@pytest.fixture
def as_user(settings: WorkflowEngineSettings) -> Headers:
    """``as_user("u1", "teacher")``: identity headers as the gateway would sign them."""
    secret = settings.internal_token_secret.get_secret_value()

    def make(
        user_id: str = "u1", role: str = "teacher", resource_role: str | None = None
    ) -> dict[str, str]:
        identity = InternalIdentity(
            user_id=user_id, platform_role=role, resource_role=resource_role
        )
        return {HEADER: sign_identity(secret, identity, audience="workflow-engine")}

    return make
