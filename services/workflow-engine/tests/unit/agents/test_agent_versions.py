"""Agents API over memory adapters: activation, templates, external agents, versions, keys."""

from __future__ import annotations

import httpx
import pytest

from coagent_workflow_engine.agents.endpoints import AgentsApi

from .agents_kit import KEY, PROJECT, Headers, create


async def test_activate_makes_one_agent_of_a_type_active(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    me = as_user("u1")
    first = await create(client, me, name="A")
    second = await create(client, me, name="B")
    assert (first["is_active"], second["is_active"]) == (True, False)

    response = await client.put(f"/api/v1/agents/{second['id']}/activate", headers=me)
    listed = (await client.get(f"/api/v1/agents/{PROJECT}", headers=me)).json()

    assert response.json()["is_active"] is True
    assert {a["name"]: a["is_active"] for a in listed} == {"A": False, "B": True}


async def test_clone_and_sync_from_a_template(client: httpx.AsyncClient, as_user: Headers) -> None:
    me = as_user("u1")
    template = await create(
        client, me, project=None, name="Template", system_prompt="v1", api_key=KEY
    )
    plain = await create(client, me)
    clone_path = f"/api/v1/agents/global/{template['id']}/clone-to-project/{PROJECT}"

    clone = await client.post(clone_path, headers=me)
    refused = await client.post(clone_path, headers=as_user("u2"))
    not_template = await client.post(
        f"/api/v1/agents/global/{plain['id']}/clone-to-project/{PROJECT}", headers=me
    )
    await client.put(f"/api/v1/agents/{template['id']}", json={"system_prompt": "v2"}, headers=me)
    synced = await client.post(f"/api/v1/agents/{clone.json()['id']}/sync-from-parent", headers=me)
    orphan = await client.post(f"/api/v1/agents/{plain['id']}/sync-from-parent", headers=me)

    assert clone.status_code == 201
    body = clone.json()
    assert (body["parent_config_id"], body["project_id"]) == (template["id"], PROJECT)
    assert (body["is_template"], body["masked_api_key"]) == (False, "sk-...wxyz")
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert (not_template.status_code, not_template.json()["code"]) == (400, "not_a_template")
    assert synced.json()["system_prompt"] == "v2"
    assert synced.json()["name"] == "Template"
    assert (orphan.status_code, orphan.json()["code"]) == (400, "no_parent_template")


async def test_external_agents_keep_their_token_write_only(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    me = as_user("u1")
    token = "bearer-token-0123456789"
    agent = await create(
        client,
        me,
        is_external=True,
        model_provider="external",
        external_config={
            "webhook_url": "https://agent.example/hook",
            "auth_type": "bearer",
            "auth_token": token,
        },
    )
    path = f"/api/v1/agents/{agent['id']}"

    echoed = await client.put(path, json=agent, headers=me)
    switched = await client.put(
        path,
        json={"external_config": {**agent["external_config"], "auth_type": "none"}},
        headers=me,
    )
    missing = await client.post(
        f"/api/v1/agents/{PROJECT}",
        json={"name": "X", "is_external": True},
        headers=me,
    )
    bad_url = await client.put(
        path, json={"external_config": {"webhook_url": "file:///etc/passwd"}}, headers=me
    )

    assert agent["external_config"]["has_auth_token"] is True
    assert token not in str(agent)
    assert echoed.json()["external_config"]["has_auth_token"] is True
    assert switched.json()["external_config"]["has_auth_token"] is False
    assert (missing.status_code, missing.json()["code"]) == (422, "external_config_required")
    assert bad_url.status_code == 422


async def test_versions_snapshot_every_change_and_restore(
    client: httpx.AsyncClient, as_user: Headers, api: AgentsApi
) -> None:
    me = as_user("u1")
    agent = await create(client, me, system_prompt="first", settings={"t": 1})
    path = f"/api/v1/agent-config/{agent['id']}/versions"
    await client.put(
        f"/api/v1/agents/{agent['id']}",
        json={"system_prompt": "second", "settings": {}, "trigger_config": {"logic": "and"}},
        headers=me,
    )
    await client.put(f"/api/v1/agents/{agent['id']}", json={"name": "Renamed"}, headers=me)
    labelled = await client.post(path, json={"version_label": "before exam"}, headers=me)
    listed = (await client.get(path, headers=me)).json()

    assert labelled.status_code == 201
    assert [v["version_label"] for v in listed] == ["before exam", "v2", "v1"]
    assert [v["number"] for v in listed] == [3, 2, 1]
    assert set(listed[0]) >= {
        "id",
        "version_label",
        "system_prompt",
        "model_provider",
        "model",
        "settings",
        "created_by",
        "created_at",
    }

    first = listed[-1]
    restored = await client.post(f"{path}/{first['id']}/restore", headers=me)
    body = restored.json()
    assert (body["system_prompt"], body["settings"], body["trigger_config"]) == (
        "first",
        {"t": 1},
        None,
    )
    assert body["name"] == "Renamed"
    assert body["version"] == 4
    current = await api.agents.current_version(agent["id"])
    assert current is not None
    assert (current.number, current.version_label) == (4, "restore of v1")

    other = await create(client, me, name="Other")
    foreign = await client.post(
        f"/api/v1/agent-config/{other['id']}/versions/{first['id']}/restore", headers=me
    )
    assert (foreign.status_code, foreign.json()["code"]) == (404, "version_not_found")


async def test_an_edit_of_unversioned_fields_makes_no_version(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    me = as_user("u1")
    agent = await create(client, me)
    edited = await client.put(
        f"/api/v1/agents/{agent['id']}", json={"name": "New", "api_key": KEY}, headers=me
    )
    assert edited.json()["version"] == 1


async def test_per_agent_keys_are_masked_and_removable(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    me = as_user("u1")
    agent = await create(client, me)
    path = f"/api/v1/agents/{agent['id']}/keys"

    put = await client.put(path, json={"room_key": KEY, "backup_key": None}, headers=me)
    read = await client.get(path, headers=me)
    removed = await client.put(path, json={"room_key": ""}, headers=me)
    bad = await client.put(path, json={"Bad Type": "x"}, headers=me)

    assert put.status_code == 200
    assert put.json()["id"] == agent["id"]
    assert read.json() == {"room_key": "sk-...wxyz"}
    assert removed.status_code == 200
    assert (await client.get(path, headers=me)).json() == {}
    assert bad.status_code == 422


async def test_delete_cascades_to_room_assignments(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    me = as_user("u1")
    agent = await create(client, me)
    room = "room-1"
    await client.post(f"/api/v1/rooms/{room}/agents", json={"agent_id": agent["id"]}, headers=me)

    deleted = await client.delete(f"/api/v1/agents/{agent['id']}", headers=me)
    gone = await client.get(f"/api/v1/agents/detail/{agent['id']}", headers=me)

    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert (await client.get(f"/api/v1/rooms/{room}/agents", headers=me)).json() == []


@pytest.mark.parametrize(
    "path", ["/api/v1/agents/system", "/api/v1/users/keys", "/api/v1/agent-types"]
)
async def test_no_identity_is_401(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert (response.status_code, response.json()["code"]) == (401, "identity_missing")
