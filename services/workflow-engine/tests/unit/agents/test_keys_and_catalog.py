"""Wallet, key encryption and rotation, who may spend a key, agent types and room assignments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from coagent_workflow_engine.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_workflow_engine.agents.crypto import (
    KeyCipher,
    UndecryptableSecret,
    cipher_from_settings,
)
from coagent_workflow_engine.agents.domain import AgentInput, Caller
from coagent_workflow_engine.agents.endpoints import AgentsApi
from coagent_workflow_engine.agents.routes import build_agents_api
from coagent_workflow_engine.settings import WorkflowEngineSettings

Headers = Callable[..., dict[str, str]]
KEY = "sk-wallet-0123456789-abcd"
OWNER = Caller("owner", "teacher")


async def add_key(
    client: httpx.AsyncClient, headers: dict[str, str], alias: str = "main", **body: Any
) -> httpx.Response:
    payload = {"provider": "openai", "alias": alias, "api_key": KEY, **body}
    return await client.post("/api/v1/users/keys", json=payload, headers=headers)


# -- wallet -------------------------------------------------------------------------------------


async def test_wallet_keys_belong_to_the_caller_and_are_masked(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    me = as_user("u1")
    created = await add_key(client, me, description="course budget", user_id="someone-else")
    mine = await client.get("/api/v1/users/keys", headers=me)
    theirs = await client.get("/api/v1/users/keys", headers=as_user("u2"))

    assert created.status_code == 201
    body = created.json()
    assert (body["user_id"], body["masked_key"], body["is_active"]) == ("u1", "sk-...abcd", True)
    assert body["schedule_config"] is None
    assert [k["alias"] for k in mine.json()] == ["main"]
    assert mine.json()[0]["masked_key"] == "sk-...abcd"
    assert theirs.json() == []
    assert KEY not in created.text + mine.text


async def test_an_alias_is_unique_per_user(client: httpx.AsyncClient, as_user: Headers) -> None:
    await add_key(client, as_user("u1"))
    again = await add_key(client, as_user("u1"))
    elsewhere = await add_key(client, as_user("u2"))

    assert (again.status_code, again.json()["code"]) == (409, "key_alias_taken")
    assert elsewhere.status_code == 201


async def test_only_the_owner_deletes_or_schedules_a_key(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    key_id = (await add_key(client, as_user("u1"))).json()["id"]
    schedule = {
        "mode": "blacklist",
        "rules": [{"type": "everyday", "time_range": ["22:00", "06:00"]}],
    }

    foreign_delete = await client.delete(f"/api/v1/users/keys/{key_id}", headers=as_user("u2"))
    foreign_schedule = await client.put(
        f"/api/v1/users/keys/{key_id}/schedule", json={"is_active": False}, headers=as_user("u2")
    )
    scheduled = await client.put(
        f"/api/v1/users/keys/{key_id}/schedule",
        json={"is_active": False, "schedule_config": schedule},
        headers=as_user("u1"),
    )
    invalid = await client.put(
        f"/api/v1/users/keys/{key_id}/schedule",
        json={"schedule_config": {"mode": "sometimes"}},
        headers=as_user("u1"),
    )
    only_active = await client.put(
        f"/api/v1/users/keys/{key_id}/schedule", json={"is_active": True}, headers=as_user("u1")
    )
    deleted = await client.delete(f"/api/v1/users/keys/{key_id}", headers=as_user("u1"))
    again = await client.delete(f"/api/v1/users/keys/{key_id}", headers=as_user("u1"))

    for refused in (foreign_delete, foreign_schedule, again):
        assert (refused.status_code, refused.json()["code"]) == (404, "key_not_found")
    assert scheduled.json() == {
        "message": "Schedule updated",
        "is_active": False,
        "schedule_config": schedule,
    }
    assert invalid.status_code == 422
    assert only_active.json()["schedule_config"] == schedule
    assert only_active.json()["is_active"] is True
    assert deleted.status_code == 204


async def test_agents_may_chain_only_their_owners_keys(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    mine = (await add_key(client, as_user("u1"))).json()["id"]
    theirs = (await add_key(client, as_user("u2"))).json()["id"]
    path = "/api/v1/agents/global"

    refused = await client.post(path, json={"user_key_ids": [theirs]}, headers=as_user("u1"))
    accepted = await client.post(path, json={"user_key_ids": [mine]}, headers=as_user("u1"))
    await client.delete(f"/api/v1/users/keys/{mine}", headers=as_user("u1"))
    after = await client.get(
        f"/api/v1/agents/detail/{accepted.json()['id']}", headers=as_user("u1")
    )

    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_user_key")
    assert accepted.json()["user_key_ids"] == [mine]
    assert after.json()["user_key_ids"] == []  # the deleted key left the chain


# -- encryption ---------------------------------------------------------------------------------


def test_ciphertext_round_trips_and_hides_the_key(cipher: KeyCipher) -> None:
    token = cipher.encrypt(KEY)
    assert KEY not in token
    assert cipher.decrypt(token) == KEY
    assert cipher.encrypt(KEY) != token  # random IV: equal keys do not look equal


def test_a_foreign_ciphertext_is_an_error_not_a_key(cipher: KeyCipher) -> None:
    other = KeyCipher([Fernet.generate_key().decode()])
    with pytest.raises(UndecryptableSecret):
        cipher.decrypt(other.encrypt(KEY))
    with pytest.raises(UndecryptableSecret):
        cipher.decrypt(KEY)  # no "legacy plaintext" fallback


async def test_rotation_re_encrypts_every_secret_with_the_new_key(
    store: MemoryStore, clock: Callable[[], datetime], fernet_key: str
) -> None:
    old = build_agents_api(lambda: MemoryUnitOfWork(store), KeyCipher([fernet_key]), clock)
    view = await old.agents.create(
        OWNER, AgentInput({"model_provider": "openai"}, api_key=KEY), None, template=True
    )
    await old.keys.put_agent_keys(OWNER, view.agent.id, {"room_key": KEY + "-room"})
    await old.keys.add_to_wallet(OWNER, "openai", "main", KEY + "-wallet", None)

    new_key = Fernet.generate_key().decode()
    rotated = build_agents_api(
        lambda: MemoryUnitOfWork(store), KeyCipher([new_key, fernet_key]), clock
    )
    report = await rotated.keys.rotate()
    second = await rotated.keys.rotate()

    assert (report.agent_secrets, report.agent_keys, report.wallet_keys) == (1, 1, 1)
    assert (second.agent_secrets, second.agent_keys, second.wallet_keys) == (0, 0, 0)
    only_new = build_agents_api(lambda: MemoryUnitOfWork(store), KeyCipher([new_key]), clock)
    agent = store.agent_tables.agents[view.agent.id]
    assert await only_new.keys.key_chain(agent, None) == [
        ("openai", KEY),
        ("openai", KEY + "-room"),
    ]
    assert [k.masked_key for k in await only_new.keys.wallet(OWNER)] == ["sk-...llet"]


def test_dev_and_test_derive_a_key_but_prod_requires_one() -> None:
    secret = SecretStr("s" * 40)
    dev = WorkflowEngineSettings(env="test", internal_token_secret=secret)
    again = WorkflowEngineSettings(env="dev", internal_token_secret=secret)
    assert cipher_from_settings(again).decrypt(cipher_from_settings(dev).encrypt(KEY)) == KEY

    with pytest.raises(ValidationError, match="WORKFLOW_ENGINE_ENCRYPTION_KEYS"):
        WorkflowEngineSettings(env="prod", internal_token_secret=secret)
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    prod = WorkflowEngineSettings(env="prod", internal_token_secret=secret, encryption_keys=keys)  # type: ignore[arg-type]
    assert len(prod.encryption_keys) == 2
    assert cipher_from_settings(prod).decrypt(cipher_from_settings(prod).encrypt(KEY)) == KEY


# -- who may spend a key ------------------------------------------------------------------------


async def test_key_resolution_follows_ownership_activity_schedule_and_provider(
    api: AgentsApi,
) -> None:
    wallet = await api.keys.add_to_wallet(OWNER, "openai", "main", KEY, None)
    gemini = await api.keys.add_to_wallet(OWNER, "gemini", "g", "gm-key-0123456789", None)
    view = await api.agents.create(
        OWNER,
        AgentInput({"model_provider": "openai", "user_key_ids": [gemini.key.id, wallet.key.id]}),
        None,
        template=True,
    )
    agent = view.agent

    assert await api.keys.resolve_key(agent, "owner") == ("openai", KEY)
    # Someone else running the owner's agent never spends the owner's wallet.
    assert await api.keys.resolve_key(agent, "someone-else") is None
    assert await api.keys.resolve_key(agent, None) is None

    await api.keys.schedule(OWNER, wallet.key.id, {"is_active": False})
    assert await api.keys.resolve_key(agent, "owner") is None
    never = {"mode": "whitelist", "rules": []}
    await api.keys.schedule(OWNER, wallet.key.id, {"is_active": True, "schedule_config": never})
    assert await api.keys.resolve_key(agent, "owner") is None
    always = {"mode": "blacklist", "rules": []}
    await api.keys.schedule(OWNER, wallet.key.id, {"schedule_config": always})
    assert await api.keys.resolve_key(agent, "owner") == ("openai", KEY)

    # The agent's own keys come first and serve whoever may run the agent.
    await api.keys.put_agent_keys(
        OWNER, agent.id, {"backup_key": "bk-0123456789xx", "room_key": "rk-0123456789xx"}
    )
    assert await api.keys.key_chain(agent, "someone-else") == [
        ("openai", "rk-0123456789xx"),
        ("openai", "bk-0123456789xx"),
    ]
    offline = replace(agent, model_provider="offline")
    assert await api.keys.resolve_key(offline, "owner") is None


async def test_a_wallet_key_is_not_spent_for_an_agent_its_owner_did_not_create(
    api: AgentsApi,
) -> None:
    admin = Caller("admin", "admin")
    key = await api.keys.add_to_wallet(OWNER, "openai", "main", KEY, None)
    view = await api.agents.create(OWNER, AgentInput({"model_provider": "openai"}), None, True)
    # An admin-edited agent pointing at the owner's key, but created by someone else:
    foreign = replace(view.agent, created_by=admin.user_id, user_key_ids=(key.key.id,))
    assert await api.keys.resolve_key(foreign, "owner") is None
    assert await api.keys.resolve_key(foreign, "admin") is None


# -- agent types --------------------------------------------------------------------------------


async def test_agent_types_system_first_admins_manage_custom_ones(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    admin, teacher = as_user("a", "admin"), as_user("t", "teacher")
    body = {"type_name": "researcher", "display_name": "Researcher", "category": "participant"}

    refused = await client.post("/api/v1/agent-types", json=body, headers=teacher)
    created = await client.post("/api/v1/agent-types", json=body, headers=admin)
    duplicate = await client.post("/api/v1/agent-types", json=body, headers=admin)
    listed = await client.get("/api/v1/agent-types", headers=teacher)
    participants = await client.get(
        "/api/v1/agent-types",
        params={"category": "participant", "include_system": "false"},
        headers=teacher,
    )
    schema = await client.get("/api/v1/agent-types/researcher/schema", headers=teacher)
    system = await client.delete("/api/v1/agent-types/teacher", headers=admin)
    teacher_delete = await client.delete("/api/v1/agent-types/researcher", headers=teacher)
    deleted = await client.delete("/api/v1/agent-types/researcher", headers=admin)
    unknown = await client.get("/api/v1/agent-types/researcher", headers=teacher)

    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert created.status_code == 201
    assert created.json()["is_system"] is False
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "agent_type_exists")
    names = [t["type_name"] for t in listed.json()]
    assert names[:4] == ["analytics", "design", "student", "teacher"]
    assert names[4:] == ["researcher"]
    assert [t["type_name"] for t in participants.json()] == ["researcher"]
    assert schema.json()["defaults"]["model_provider"] == "gemini"
    assert schema.json()["is_external"] is False
    assert (system.status_code, system.json()["code"]) == (400, "system_type")
    assert teacher_delete.status_code == 403
    assert deleted.status_code == 204
    assert (unknown.status_code, unknown.json()["code"]) == (404, "agent_type_not_found")


# -- room assignments ---------------------------------------------------------------------------


async def test_room_assignments(client: httpx.AsyncClient, as_user: Headers) -> None:
    owner, other = as_user("u1"), as_user("u2")
    path = "/api/v1/rooms/room-1/agents"
    own = (await client.post("/api/v1/agents/global", json={"name": "Own"}, headers=owner)).json()
    template = (
        await client.post("/api/v1/agents/global", json={"name": "Shared"}, headers=other)
    ).json()
    private = (
        await client.post(
            "/api/v1/agents/7a0c3a4e-0000-4000-8000-000000000001", json={"name": "P"}, headers=other
        )
    ).json()

    first = await client.post(
        path, json={"agent_id": own["id"], "settings": {"ai_frequency": 0.8}}, headers=owner
    )
    second = await client.post(path, json={"agent_id": template["id"], "order": 0}, headers=owner)
    duplicate = await client.post(path, json={"agent_id": own["id"]}, headers=owner)
    refused = await client.post(path, json={"agent_id": private["id"]}, headers=owner)
    unknown = await client.post(
        path, json={"agent_id": "00000000-0000-4000-8000-000000000000"}, headers=owner
    )
    bad = await client.post(
        path, json={"agent_id": own["id"], "settings": {"ai_frequency": 2}}, headers=owner
    )
    listed = (await client.get(path, headers=as_user("s", "student", "student"))).json()

    assert first.status_code == 201
    assert first.json()["settings"] == {"ai_frequency": 0.8, "reply_mode": "auto"}
    assert first.json()["order"] == 0
    assert first.json()["agent"]["name"] == "Own"
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "agent_already_assigned")
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "agent_not_found")
    assert bad.status_code == 422
    assert [a["agent_id"] for a in listed] == [own["id"], template["id"]]
    assert second.status_code == 201

    moved = await client.put(
        f"{path}/{own['id']}",
        json={"order": 5, "is_active": False, "settings": {"reply_mode": "mention_only"}},
        headers=owner,
    )
    assert (moved.json()["order"], moved.json()["is_active"]) == (5, False)
    assert moved.json()["settings"]["reply_mode"] == "mention_only"
    assert [a["agent_id"] for a in (await client.get(path, headers=owner)).json()] == [
        template["id"],
        own["id"],
    ]
    removed = await client.delete(f"{path}/{own['id']}", headers=owner)
    again = await client.delete(f"{path}/{own['id']}", headers=owner)
    missing = await client.put(f"{path}/{own['id']}", json={}, headers=owner)
    assert removed.status_code == 204
    assert (again.status_code, again.json()["code"]) == (404, "room_agent_not_found")
    assert missing.status_code == 404
