"""A2A webhook over memory adapters: callback tokens, every refusal, the published message."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from coagent_contracts.workflow import AgentMessageProducedV1
from coagent_workflow_engine.adapters.memory import MemoryStore

Headers = Callable[..., dict[str, str]]
ROOM = "room-1"
WEBHOOK = "/api/v1/a2a/webhook"


async def external(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    body = {
        "name": "Outside Bot",
        "type": "teacher",
        "model_provider": "external",
        "is_external": True,
        "external_config": {"webhook_url": "https://agent.example/hook"},
    }
    response = await client.post("/api/v1/agents/global", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def assign(
    client: httpx.AsyncClient, headers: dict[str, str], agent_id: str, active: bool = True
) -> None:
    response = await client.post(
        f"/api/v1/rooms/{ROOM}/agents",
        json={"agent_id": agent_id, "is_active": active},
        headers=headers,
    )
    assert response.status_code == 201, response.text


@pytest.fixture
async def agent(client: httpx.AsyncClient, as_user: Headers) -> dict[str, Any]:
    """An external agent of ``u1``, assigned (active) to ``room-1``; it holds its token."""
    created = await external(client, as_user("u1"))
    await assign(client, as_user("u1"), created["id"])
    return created


def agent_headers(agent: dict[str, Any], token: str | None = None) -> dict[str, str]:
    return {"X-Agent-ID": agent["id"], "X-Agent-Token": token or agent["callback_token"]}


async def post(
    client: httpx.AsyncClient,
    as_user: Headers,
    headers: dict[str, str],
    **body: Any,
) -> httpx.Response:
    payload = {"content": "Hello from outside", "metadata": {"room_id": ROOM}, **body}
    # The gateway signs a non-user identity for agents; the route grants it nothing.
    return await client.post(WEBHOOK, json=payload, headers={**as_user("a2a", "guest"), **headers})


def published(store: MemoryStore) -> list[AgentMessageProducedV1]:
    return [e for e in store.published if isinstance(e, AgentMessageProducedV1)]


async def test_the_token_is_shown_once_and_stored_only_as_a_hash(
    client: httpx.AsyncClient, as_user: Headers, store: MemoryStore, agent: dict[str, Any]
) -> None:
    token = agent["callback_token"]
    stored = store.agent_tables.agents[agent["id"]]
    detail = await client.get(f"/api/v1/agents/detail/{agent['id']}", headers=as_user("u1"))

    assert isinstance(token, str)
    assert len(token) >= 43
    assert agent["has_callback_token"] is True
    assert stored.callback_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(stored)
    assert token not in json.dumps(agent["external_config"])
    assert detail.json()["callback_token"] is None
    assert detail.json()["has_callback_token"] is True


async def test_a_post_becomes_an_agent_message_in_the_room(
    client: httpx.AsyncClient, as_user: Headers, store: MemoryStore, agent: dict[str, Any]
) -> None:
    correlation = "0b8f4c1e-2a6d-4e7f-9c3b-000000000001"
    response = await post(
        client, as_user, agent_headers(agent), type="proposal", correlation_id=correlation
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {
        "success": True,
        "message_id": body["message_id"],
        "dispatched": True,
        "duplicate": False,
    }
    [event] = published(store)
    data = event.data
    assert event.event_id == body["message_id"]
    assert event.correlation_id == correlation
    assert (data.room_id, data.agent_id, data.agent_name) == (ROOM, agent["id"], "Outside Bot")
    assert data.agent_type == "external"
    assert data.content == "Hello from outside"
    assert data.metadata == {"a2a": True, "message_type": "proposal", "correlation_id": correlation}
    assert data.run_id.startswith("a2a-")
    assert data.workflow_id == "a2a"
    assert data.stream_id == f"a2a.{event.event_id}"
    assert len(data.stream_id) <= 64  # chat's column


async def test_json_content_is_posted_as_compact_text(
    client: httpx.AsyncClient, as_user: Headers, store: MemoryStore, agent: dict[str, Any]
) -> None:
    content = {"score": 3, "notes": ["ok", "é"]}
    response = await post(client, as_user, agent_headers(agent), content=content)

    assert response.status_code == 202
    assert published(store)[0].data.content == '{"score":3,"notes":["ok","é"]}'


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 400, "missing_agent_header"),
        ({"X-Agent-ID": "not-a-uuid"}, 400, "invalid_agent_id"),
        ({"X-Agent-ID": "0b8f4c1e-2a6d-4e7f-9c3b-000000000009"}, 404, "agent_not_found"),
    ],
)
async def test_the_agent_header_is_required_and_must_name_an_agent(
    client: httpx.AsyncClient,
    as_user: Headers,
    agent: dict[str, Any],
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    response = await post(client, as_user, {**headers, "X-Agent-Token": agent["callback_token"]})
    assert (response.status_code, response.json()["code"]) == (status, code)


async def test_an_internal_agent_cannot_post(
    client: httpx.AsyncClient, as_user: Headers, store: MemoryStore
) -> None:
    created = await client.post(
        "/api/v1/agents/global", json={"name": "Inside"}, headers=as_user("u1")
    )
    assert created.json()["callback_token"] is None
    await assign(client, as_user("u1"), created.json()["id"])

    response = await post(client, as_user, {"X-Agent-ID": created.json()["id"]})

    assert (response.status_code, response.json()["code"]) == (404, "agent_not_found")
    assert published(store) == []


@pytest.mark.parametrize("token", ["", "wrong-token", None])
async def test_a_wrong_or_missing_token_is_refused(
    client: httpx.AsyncClient,
    as_user: Headers,
    store: MemoryStore,
    agent: dict[str, Any],
    token: str | None,
) -> None:
    headers = {"X-Agent-ID": agent["id"]}
    if token is not None:
        headers["X-Agent-Token"] = token
    response = await post(client, as_user, headers)

    assert (response.status_code, response.json()["code"]) == (401, "invalid_agent_token")
    assert published(store) == []


async def test_an_agent_posts_only_into_rooms_it_is_active_in(
    client: httpx.AsyncClient, as_user: Headers, store: MemoryStore
) -> None:
    lonely = await external(client, as_user("u1"))
    other_room = await post(client, as_user, agent_headers(lonely))
    await assign(client, as_user("u1"), lonely["id"], active=False)
    inactive = await post(client, as_user, agent_headers(lonely))

    for response in (other_room, inactive):
        assert (response.status_code, response.json()["code"]) == (403, "agent_not_in_room")
    assert published(store) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "gossip"}, "validation_error"),
        ({"correlation_id": "not-a-uuid"}, "validation_error"),
        ({"content": "x" * 32_001}, "validation_error"),
        ({"content": ""}, "validation_error"),
        ({"content": "  \n "}, "validation_error"),
        ({"metadata": {}}, "validation_error"),
        ({"recipient_id": "0b8f4c1e-2a6d-4e7f-9c3b-000000000002"}, "unsupported_recipient"),
    ],
)
async def test_invalid_payloads_are_422_never_500(
    client: httpx.AsyncClient,
    as_user: Headers,
    store: MemoryStore,
    agent: dict[str, Any],
    body: dict[str, Any],
    code: str,
) -> None:
    response = await post(client, as_user, agent_headers(agent), **body)

    assert (response.status_code, response.json()["code"]) == (422, code)
    assert published(store) == []


async def test_a_repeated_id_is_dispatched_once(
    client: httpx.AsyncClient, as_user: Headers, store: MemoryStore, agent: dict[str, Any]
) -> None:
    first = await post(client, as_user, agent_headers(agent), id="m-1")
    again = await post(client, as_user, agent_headers(agent), id="m-1")
    keyed = {**agent_headers(agent), "Idempotency-Key": "k-1"}
    by_header = [await post(client, as_user, keyed) for _ in range(2)]

    assert first.status_code == again.status_code == 202
    assert again.json()["message_id"] == first.json()["message_id"]
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert by_header[0].json()["message_id"] == by_header[1].json()["message_id"]
    events = published(store)
    assert len(events) == 2
    assert events[0].data.stream_id == f"a2a.{first.json()['message_id']}"


async def test_rotation_invalidates_the_old_token(
    client: httpx.AsyncClient, as_user: Headers, store: MemoryStore, agent: dict[str, Any]
) -> None:
    path = f"/api/v1/agents/{agent['id']}/callback-token"
    stranger = await client.post(path, headers=as_user("u2"))
    rotated = await client.post(path, headers=as_user("u1"))
    by_admin = await client.post(path, headers=as_user("boss", "admin"))
    token = by_admin.json()["callback_token"]

    assert (stranger.status_code, stranger.json()["code"]) == (403, "forbidden")
    assert rotated.status_code == by_admin.status_code == 200
    assert rotated.json()["callback_token"] != agent["callback_token"]
    old = await post(client, as_user, agent_headers(agent))
    previous = await post(client, as_user, agent_headers(agent, rotated.json()["callback_token"]))
    current = await post(client, as_user, agent_headers(agent, token))
    assert (old.status_code, previous.status_code, current.status_code) == (401, 401, 202)
    stored = store.agent_tables.agents[agent["id"]].callback_token_hash
    assert stored == hashlib.sha256(token.encode()).hexdigest()


async def test_only_external_agents_get_a_token(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    created = await client.post("/api/v1/agents/global", json={}, headers=as_user("u1"))
    path = f"/api/v1/agents/{created.json()['id']}/callback-token"
    response = await client.post(path, headers=as_user("u1"))

    assert (response.status_code, response.json()["code"]) == (400, "not_external")


async def test_a_project_copy_gets_its_own_token(
    client: httpx.AsyncClient, as_user: Headers, agent: dict[str, Any]
) -> None:
    project = "7a0c3a4e-0000-4000-8000-000000000001"
    path = f"/api/v1/agents/global/{agent['id']}/clone-to-project/{project}"
    copy = (await client.post(path, headers=as_user("u1"))).json()

    assert copy["callback_token"] not in (None, agent["callback_token"])
    await assign(client, as_user("u1"), copy["id"])
    mixed = await post(client, as_user, agent_headers(copy, agent["callback_token"]))
    assert mixed.status_code == 401


async def test_the_webhook_only_answers_calls_through_the_gateway(
    client: httpx.AsyncClient, agent: dict[str, Any]
) -> None:
    payload = {"content": "hi", "metadata": {"room_id": ROOM}}
    response = await client.post(WEBHOOK, json=payload, headers=agent_headers(agent))
    assert (response.status_code, response.json()["code"]) == (401, "identity_missing")


async def test_health_is_public(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/a2a/health")).json()
    assert body["status"] == "ok"
    assert "timestamp" in body
