"""Threads through the service use cases on a real PostgreSQL (migration 0007)."""

from __future__ import annotations

import json
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine

from coagent_kit.db import session_factory
from coagent_workflow_engine.adapters.postgres_agents import PostgresAgentsUnitOfWork
from coagent_workflow_engine.agents.crypto import KeyCipher
from coagent_workflow_engine.agents.domain import AgentInput, Caller
from coagent_workflow_engine.agents.routes import build_agents_api
from coagent_workflow_engine.threads.domain import ThreadNotFound
from coagent_workflow_engine.threads.postgres import PostgresThreadStore
from coagent_workflow_engine.threads.service import NewThread, ThreadService

pytestmark = pytest.mark.integration


async def test_a_thread_is_stored_in_order_and_only_its_owner_reads_it(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)

    def agents_uow() -> PostgresAgentsUnitOfWork:
        return PostgresAgentsUnitOfWork(sessions, lambda: None)

    api = build_agents_api(agents_uow, KeyCipher([Fernet.generate_key().decode()]))
    owner = Caller(f"user-{uuid.uuid4().hex[:12]}", "teacher")
    project = str(uuid.uuid4())
    agent = await api.agents.create(owner, AgentInput({"name": "Tutor"}), project, template=False)
    threads = ThreadService(PostgresThreadStore(sessions), agents_uow, api.keys)

    thread = await threads.create(owner, NewThread(agent.agent.id, project, "Try-out", "{}"))
    for text in ("one", "two", "three"):
        await threads.post(owner, thread.id, text, None)
    stored = await threads.messages(owner, thread.id, 1000)
    assert [(m.role, m.content) for m in stored][::2] == [
        ("user", "one"),
        ("user", "two"),
        ("user", "three"),
    ]
    assert all(json.loads(m.metadata_json or "{}")["offline"] for m in stored[1::2])
    assert [m.content for m in await threads.messages(owner, thread.id, 2)][0] == "three"
    listed = await threads.threads(owner, 10)
    assert [t.id for t in listed] == [thread.id]
    assert listed[0].updated_at > thread.updated_at
    with pytest.raises(ThreadNotFound):
        await threads.get(Caller("someone-else", "admin"), thread.id)
