"""The agents repositories against a real PostgreSQL (the session's embedded server)."""

from __future__ import annotations

import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_workflow_engine.adapters.postgres_agent_tables import agent_keys, agents, user_keys
from coagent_workflow_engine.adapters.postgres_agents import PostgresAgentsUnitOfWork
from coagent_workflow_engine.agents.crypto import KeyCipher
from coagent_workflow_engine.agents.domain import (
    AgentAlreadyAssigned,
    AgentInput,
    AgentTypeExists,
    Caller,
    KeyAliasTaken,
)
from coagent_workflow_engine.agents.endpoints import AgentsApi
from coagent_workflow_engine.agents.routes import build_agents_api

pytestmark = pytest.mark.integration

KEY = "sk-integration-secret-0123456789"


@pytest.fixture(scope="module")
def fernet_key() -> str:
    # One key for the module: rotation works on every row of the shared database.
    return Fernet.generate_key().decode()


def make_api(sessions: async_sessionmaker[AsyncSession], *keys: str) -> AgentsApi:
    return build_agents_api(
        lambda: PostgresAgentsUnitOfWork(sessions, lambda: None), KeyCipher(list(keys))
    )


@pytest.fixture
def api(sessions: async_sessionmaker[AsyncSession], fernet_key: str) -> AgentsApi:
    return make_api(sessions, fernet_key)


@pytest.fixture
def owner() -> Caller:
    """A user of this test only: the database is shared by the whole session."""
    return Caller(f"user-{uuid.uuid4().hex[:12]}", "teacher")


async def test_agents_round_trip_with_versions_and_restore(api: AgentsApi, owner: Caller) -> None:
    project = str(uuid.uuid4())
    data = AgentInput(
        {
            "name": "Tutor",
            "model_provider": "openai",
            "settings": {"temperature": 0.3},
            "trigger_config": {"logic": "or", "trigger": {"enabled_conditions": []}},
            "capabilities": ["chat:write"],
        },
        api_key=KEY,
    )
    created = await api.agents.create(owner, data, project, template=False)
    edited = await api.agents.update(
        owner, created.agent.id, AgentInput({"system_prompt": "Be brief.", "model": "gpt-4o"})
    )
    listed = await api.agents.in_project(owner, project)
    versions = await api.agents.versions(owner, created.agent.id)
    restored = await api.agents.restore(owner, created.agent.id, versions[-1].id)

    assert created.masked_api_key == "sk-...6789"
    assert [v.agent for v in listed] == [edited.agent]
    assert edited.agent.capabilities == ("chat:write",)
    assert [v.number for v in versions] == [2, 1]
    assert (restored.agent.system_prompt, restored.agent.model) == ("", None)
    assert restored.agent.settings == {"temperature": 0.3}
    current = await api.agents.current_version(created.agent.id)
    assert current is not None
    assert current.number == 3


async def test_stored_secrets_are_never_plaintext(
    api: AgentsApi, owner: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    external = {
        "webhook_url": "https://agent.example/hook",
        "auth_type": "bearer",
        "timeout_ms": 30_000,
        "fallback_message": "unavailable",
    }
    view = await api.agents.create(
        owner,
        AgentInput(
            {"is_external": True, "model_provider": "external", "external_config": external},
            KEY,
            KEY + "-token",
        ),
        None,
        template=True,
    )
    await api.keys.put_agent_keys(owner, view.agent.id, {"room_key": KEY + "-room"})
    await api.keys.add_to_wallet(owner, "openai", "main", KEY + "-wallet", None)

    async with sessions() as session:
        row = (await session.execute(select(agents).where(agents.c.id == view.agent.id))).one()
        key_rows = (
            await session.execute(select(agent_keys).where(agent_keys.c.agent_id == view.agent.id))
        ).all()
        wallet_rows = (
            await session.execute(select(user_keys).where(user_keys.c.user_id == owner.user_id))
        ).all()
    stored = [row.api_key, row.external_token, *(r.ciphertext for r in key_rows)]
    stored += [r.ciphertext for r in wallet_rows]
    assert len(stored) == 4
    for value in stored:
        assert value
        assert "integration" not in value
    assert "integration" not in str(dict(row._mapping))
    assert await api.keys.key_chain(view.agent, owner.user_id) == []  # external: no key needed


async def test_deleting_an_agent_cascades_in_the_database(
    api: AgentsApi, owner: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    template = await api.agents.create(owner, AgentInput(), None, template=True)
    clone = await api.agents.clone_to_project(owner, template.agent.id, str(uuid.uuid4()))
    await api.keys.put_agent_keys(owner, template.agent.id, {"room_key": KEY})
    room = f"room-{uuid.uuid4().hex[:8]}"
    await api.rooms.assign(owner, room, template.agent.id, {}, True, None)
    with pytest.raises(AgentAlreadyAssigned):
        await api.rooms.assign(owner, room, template.agent.id, {}, True, None)

    await api.agents.delete(owner, template.agent.id)

    assert await api.rooms.of_room(room) == []
    assert (await api.agents.get(owner, clone.agent.id)).agent.parent_config_id is None
    async with sessions() as session:
        left = await session.scalar(
            text("SELECT count(*) FROM agent_versions WHERE agent_id = :id"),
            {"id": template.agent.id},
        )
    assert left == 0


async def test_wallet_alias_uniqueness_and_key_chain_cleanup(api: AgentsApi, owner: Caller) -> None:
    key = await api.keys.add_to_wallet(owner, "openai", "main", KEY, None)
    with pytest.raises(KeyAliasTaken):
        await api.keys.add_to_wallet(owner, "gemini", "main", KEY, None)
    view = await api.agents.create(
        owner, AgentInput({"model_provider": "openai", "user_key_ids": [key.key.id]}), None, True
    )
    assert await api.keys.resolve_key(view.agent, owner.user_id) == ("openai", KEY)

    await api.keys.delete_from_wallet(owner, key.key.id)

    assert (await api.agents.get(owner, view.agent.id)).agent.user_key_ids == ()


async def test_rotation_re_encrypts_stored_rows(
    sessions: async_sessionmaker[AsyncSession], fernet_key: str, owner: Caller
) -> None:
    old = make_api(sessions, fernet_key)
    view = await old.agents.create(
        owner, AgentInput({"model_provider": "openai"}, api_key=KEY), None, True
    )
    new_key = Fernet.generate_key().decode()

    report = await make_api(sessions, new_key, fernet_key).keys.rotate()

    only_new = make_api(sessions, new_key)
    agent = (await only_new.agents.get(owner, view.agent.id)).agent
    assert report.agent_secrets >= 1
    assert await only_new.keys.resolve_key(agent, owner.user_id) == ("openai", KEY)
    await make_api(sessions, fernet_key, new_key).keys.rotate()  # back, for the other tests


async def test_system_types_are_seeded_and_custom_types_unique(api: AgentsApi) -> None:
    admin = Caller("admin", "admin")
    name = f"t{uuid.uuid4().hex[:10]}"
    types = await api.types.list(None, include_system=True)
    created = await api.types.create(
        admin, {"type_name": name, "display_name": "Custom", "category": "utility"}
    )
    with pytest.raises(AgentTypeExists):
        await api.types.create(
            admin, {"type_name": name, "display_name": "Again", "category": "utility"}
        )

    assert [t.type_name for t in types if t.is_system] == [
        "analytics",
        "design",
        "student",
        "teacher",
    ]
    assert (await api.types.get(name)) == created
    await api.types.delete(admin, name)
