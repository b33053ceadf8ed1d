"""Agents API over memory adapters: routes, whole-object PUT, secrets, authorisation."""

from __future__ import annotations

from typing import Any

import httpx

from .agents_kit import KEY, PROJECT, Headers, create


async def test_literal_routes_are_never_taken_for_ids(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    me = as_user("u1")
    created = await client.post("/api/v1/agents/global", json={"type": "teacher"}, headers=me)
    listed = await client.get("/api/v1/agents/global/list", headers=me)
    system = await client.get("/api/v1/agents/system", headers=me)
    not_an_id = await client.get("/api/v1/agents/not-a-uuid", headers=me)

    assert created.status_code == 201
    assert created.json()["is_template"] is True
    assert created.json()["project_id"] is None
    assert created.json()["name"] == "My Agent"
    assert [a["id"] for a in listed.json()] == [created.json()["id"]]
    assert (system.status_code, system.json()) == (200, [])
    assert (not_an_id.status_code, not_an_id.json()["code"]) == (422, "validation_error")


async def test_the_whole_object_read_can_be_sent_back(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    me = as_user("u1")
    agent = await create(
        client, me, model_provider="openai", settings={"temperature": 0.2}, context_window=25
    )
    read = (await client.get(f"/api/v1/agents/detail/{agent['id']}", headers=me)).json()

    edited = {**read, "system_prompt": "Be brief.", "id": "ignored", "created_by": "mallory"}
    response = await client.put(f"/api/v1/agents/{agent['id']}", json=edited, headers=me)

    assert response.status_code == 200
    body = response.json()
    assert body["system_prompt"] == "Be brief."
    assert (body["id"], body["created_by"]) == (agent["id"], "u1")
    for field in ("model_provider", "settings", "context_window", "name", "type", "project_id"):
        assert body[field] == read[field]


async def test_omitted_fields_keep_their_values(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    me = as_user("u1")
    agent = await create(
        client, me, model_provider="openai", settings={"t": 1}, context_window=30, model="gpt-4o"
    )

    response = await client.put(
        f"/api/v1/agents/{agent['id']}", json={"name": "Coach", "settings": None}, headers=me
    )

    body = response.json()
    assert body["name"] == "Coach"
    assert (body["model_provider"], body["model"]) == ("openai", "gpt-4o")
    assert (body["settings"], body["context_window"]) == ({"t": 1}, 30)


async def test_api_key_is_write_only_and_an_empty_string_keeps_it(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    """The web client's "My agents" form sends ``api_key: ""`` meaning "unchanged"."""
    me = as_user("u1")
    agent = await create(client, me, api_key=KEY)
    path = f"/api/v1/agents/{agent['id']}"
    assert agent["masked_api_key"] == "sk-...wxyz"

    kept_null = await client.put(path, json={"api_key": None}, headers=me)
    kept_absent = await client.put(path, json={"name": "Other"}, headers=me)
    kept_empty = await client.put(path, json={"api_key": "", "name": "Form"}, headers=me)
    replaced = await client.put(path, json={"api_key": "sk-second-key-000000-9876"}, headers=me)
    cleared = await client.put(path, json={"clear_api_key": True}, headers=me)

    assert kept_null.json()["masked_api_key"] == "sk-...wxyz"
    assert kept_absent.json()["masked_api_key"] == "sk-...wxyz"
    assert kept_empty.json()["masked_api_key"] == "sk-...wxyz"
    assert replaced.json()["masked_api_key"] == "sk-...9876"
    assert (cleared.json()["masked_api_key"], cleared.json()["has_api_key"]) == (None, False)
    for response in (kept_null, kept_absent, kept_empty, replaced):
        assert KEY not in response.text
        assert "api_key" not in response.json()


async def test_the_system_agent_form_clears_the_key_with_an_empty_string(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    as_admin = as_user("root", "admin")
    path = "/api/v1/agents/system/design"
    body = {"type": "design", "system_prompt": "Design", "model_provider": "openai"}
    created = await client.put(path, json={**body, "api_key": KEY}, headers=as_admin)
    assert created.json()["masked_api_key"] == "sk-...wxyz"
    kept = await client.put(path, json={**body, "api_key": None}, headers=as_admin)
    assert kept.json()["masked_api_key"] == "sk-...wxyz"
    cleared = await client.put(path, json={**body, "api_key": ""}, headers=as_admin)
    assert cleared.json()["has_api_key"] is False


async def test_short_keys_are_masked_completely(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    agent = await create(client, as_user("u1"), api_key="short-key")
    assert agent["masked_api_key"] == "****"


async def test_unknown_is_404_and_someone_elses_is_403(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    agent = await create(client, as_user("u1"))
    unknown = "00000000-0000-4000-8000-000000000000"
    paths = [
        ("get", "/api/v1/agents/detail/{}"),
        ("put", "/api/v1/agents/{}"),
        ("put", "/api/v1/agents/{}/activate"),
        ("delete", "/api/v1/agents/{}"),
        ("get", "/api/v1/agents/{}/keys"),
        ("get", "/api/v1/agent-config/{}/versions"),
    ]
    for method, path in paths:
        kwargs: dict[str, Any] = {"json": {}} if method == "put" else {}
        missing = await client.request(
            method, path.format(unknown), headers=as_user("u1"), **kwargs
        )
        refused = await client.request(
            method, path.format(agent["id"]), headers=as_user("u2"), **kwargs
        )
        assert (missing.status_code, missing.json()["code"]) == (404, "agent_not_found"), path
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), path

    admin = await client.get(f"/api/v1/agents/detail/{agent['id']}", headers=as_user("a", "admin"))
    assert admin.status_code == 200


async def test_project_listing_shows_what_the_caller_may_read(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    mine = await create(client, as_user("u1"), name="Mine")
    await create(client, as_user("u2"), name="Theirs")

    own = await client.get(f"/api/v1/agents/{PROJECT}", headers=as_user("u1"))
    every = await client.get(f"/api/v1/agents/{PROJECT}", headers=as_user("a", "super_admin"))

    assert [a["id"] for a in own.json()] == [mine["id"]]
    assert {a["name"] for a in every.json()} == {"Mine", "Theirs"}


async def test_duplicate_names_per_project_and_type_are_409(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    await create(client, as_user("u1"))
    again = await client.post(
        f"/api/v1/agents/{PROJECT}",
        json={"name": "Tutor", "type": "teacher"},
        headers=as_user("u1"),
    )
    assert (again.status_code, again.json()["code"]) == (409, "agent_name_taken")


async def test_guests_cannot_create_agents(client: httpx.AsyncClient, as_user: Headers) -> None:
    response = await client.post("/api/v1/agents/global", json={}, headers=as_user("g", "guest"))
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


async def test_system_agents_admins_write_everyone_reads_names(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    body = {
        "name": "Design Agent Config",
        "type": "design",
        "system_prompt": "Design.",
        "api_key": KEY,
    }
    refused = await client.put("/api/v1/agents/system/design", json=body, headers=as_user("t"))
    written = await client.put(
        "/api/v1/agents/system/design", json=body, headers=as_user("a", "admin")
    )
    updated = await client.put(
        "/api/v1/agents/system/design",
        json={"type": "analytics", "system_prompt": "Design v2.", "api_key": None},
        headers=as_user("a", "admin"),
    )
    bad_type = await client.put(
        "/api/v1/agents/system/teacher", json=body, headers=as_user("a", "admin")
    )
    for_admin = (await client.get("/api/v1/agents/system", headers=as_user("a", "admin"))).json()
    for_student = await client.get("/api/v1/agents/system", headers=as_user("s", "student"))

    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert written.status_code == 200
    assert (updated.json()["id"], updated.json()["type"]) == (written.json()["id"], "design")
    assert updated.json()["masked_api_key"] == "sk-...wxyz"
    assert bad_type.status_code == 422
    assert [a["system_prompt"] for a in for_admin] == ["Design v2."]
    assert for_student.json() == [
        {
            "id": written.json()["id"],
            "name": "Design Agent Config",
            "type": "design",
            "is_system": True,
            "is_active": True,
        }
    ]
    assert KEY not in for_student.text
    owner_edit = await client.put(
        f"/api/v1/agents/{written.json()['id']}", json={}, headers=as_user("a2", "teacher")
    )
    assert owner_edit.status_code == 403


async def test_trigger_and_schedule_configs_are_stored_complete_or_null(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    me = as_user("u1")
    agent = await create(
        client,
        me,
        trigger_config={
            "logic": "and",
            "trigger": {"enabled_conditions": ["message_count"], "message_count": 5},
        },
        schedule_config={"rules": [{"type": "day_of_week", "days": [1, 2]}]},
    )
    path = f"/api/v1/agents/{agent['id']}"

    assert agent["trigger_config"]["logic"] == "and"
    assert agent["trigger_config"]["trigger"]["context_strategy"] == {"type": "last_n", "n": 10}
    assert set(agent["trigger_config"]) == {
        "logic",
        "trigger",
        "close",
        "self_modification",
        "state_reset",
    }
    assert agent["schedule_config"]["mode"] == "whitelist"

    bad = [
        {"trigger_config": {"trigger": {"enabled_conditions": ["message_count"]}}},
        {"trigger_config": {"logic": "xor"}},
        {"trigger_config": {"close": {"strategy": "user_timeout"}}},
        {"trigger_config": {"surprise": True}},
        {"schedule_config": {"rules": [{"type": "specific_date"}]}},
        {"schedule_config": {"rules": [{"type": "everyday", "time_range": ["25:00", "26:00"]}]}},
        {"schedule_config": {"rules": [{"type": "day_of_week", "days": [8]}]}},
        {"context_window": 500},
        {"context_strategy": "some"},
        {"model_provider": "anthropic"},
    ]
    for body in bad:
        response = await client.put(path, json=body, headers=me)
        assert (response.status_code, response.json()["code"]) == (422, "validation_error"), body
        assert response.json()["detail"][0]["loc"]

    cleared = await client.put(path, json={"trigger_config": None}, headers=me)
    assert cleared.json()["trigger_config"] is None
    assert cleared.json()["schedule_config"] is not None
