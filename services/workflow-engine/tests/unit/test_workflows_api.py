"""Workflow documents and the runs API over memory adapters, through the HTTP routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from coagent_contracts.workflow import RoomWorkflowAttachedV1, RunCancelledV1, RunQueuedV1
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_workflow_engine.adapters.memory import MemoryStore
from coagent_workflow_engine.settings import WorkflowEngineSettings

EMPTY = {"nodes": [], "edges": []}
EDITOR_CHAIN = {
    "nodes": [
        {"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
        {
            "id": "a",
            "type": "agent",
            "position": {"x": 1, "y": 1},
            "config": {
                "agentId": "agent-1",
                "label": "Student",
                "config": {"output_behavior": "proposal"},
            },
        },
        {"id": "end", "type": "end", "position": {"x": 2, "y": 2}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "a", "type": "forward"},
        {"id": "e2", "source": "a", "target": "end", "type": "forward"},
    ],
}


@pytest.fixture
async def client(memory_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
        yield http


def headers(
    settings: WorkflowEngineSettings,
    user: str = "u1",
    role: str = "teacher",
    room_role: str | None = None,
) -> dict[str, str]:
    identity = InternalIdentity(user_id=user, platform_role=role, resource_role=room_role)
    secret = settings.internal_token_secret.get_secret_value()
    return {HEADER: sign_identity(secret, identity, audience="workflow-engine")}


@pytest.fixture
def me(settings: WorkflowEngineSettings) -> dict[str, str]:
    return headers(settings)


async def _create(
    client: httpx.AsyncClient, auth: dict[str, str], graph: Any = EMPTY, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/workflows",
        json={"name": "New Workflow", "graph_data": graph, "is_active": True, **extra},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_clients_new_workflow_is_an_empty_draft_that_cannot_run(
    client: httpx.AsyncClient, me: dict[str, str]
) -> None:
    created = await _create(client, me)
    assert (created["graph_data"]["nodes"], created["version"], created["runnable"]) == (
        [],
        1,
        False,
    )

    listed = (await client.get("/api/v1/workflows", headers=me)).json()
    assert [w["id"] for w in listed if w["id"] == created["id"]] == [created["id"]]
    assert set(listed[0]) >= {"id", "name", "is_active", "updated_at", "graph_data"}
    execute = await client.post(f"/api/v1/workflows/{created['id']}/execute", json={}, headers=me)
    assert (execute.status_code, execute.json()["code"]) == (422, "workflow_not_runnable")


async def test_saving_makes_immutable_versions_in_the_editor_shape_and_restore_adds_one(
    client: httpx.AsyncClient, me: dict[str, str]
) -> None:
    created = await _create(client, me, limits={})
    wid = created["id"]
    limits = {"max_steps": 7, "max_tokens": 1000, "max_cost_usd": 1.0, "timeout_s": 60}
    with_limits = await client.put(
        f"/api/v1/workflows/{wid}", json={"graph_data": {**EMPTY, "limits": limits}}, headers=me
    )
    assert with_limits.json()["limits"] == limits
    saved = await client.put(
        f"/api/v1/workflows/{wid}", json={"name": "Chain", "graph_data": EDITOR_CHAIN}, headers=me
    )
    body = saved.json()
    assert (body["version"], body["name"], body["runnable"]) == (3, "Chain", True)
    assert body["limits"] == limits  # the editor's save omitted them: kept
    agent = body["graph_data"]["nodes"][1]
    assert agent["config"]["agentId"] == "agent-1"
    assert agent["config"]["config"] == {"output_behavior": "proposal"}

    versions = (await client.get(f"/api/v1/workflows/{wid}/versions", headers=me)).json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    first = (await client.get(f"/api/v1/workflows/{wid}/versions/1", headers=me)).json()
    assert first["graph"]["nodes"] == []

    restored = await client.post(f"/api/v1/workflows/{wid}/versions/1/restore", headers=me)
    assert (restored.json()["version"], restored.json()["graph_data"]["nodes"]) == (4, [])
    again = (await client.get(f"/api/v1/workflows/{wid}/versions/3", headers=me)).json()
    assert len(again["graph"]["nodes"]) == 3  # history is never rewritten


async def test_version_numbers_out_of_range_are_a_422_not_a_crash(
    client: httpx.AsyncClient, me: dict[str, str]
) -> None:
    wid = (await _create(client, me, limits={}))["id"]
    for number in ("0", str(2**59 + 1)):
        read = await client.get(f"/api/v1/workflows/{wid}/versions/{number}", headers=me)
        restore = await client.post(
            f"/api/v1/workflows/{wid}/versions/{number}/restore", headers=me
        )
        assert read.status_code == restore.status_code == 422, (read.text, restore.text)


async def test_an_invalid_graph_is_a_422_listing_every_problem(
    client: httpx.AsyncClient, me: dict[str, str]
) -> None:
    graph = {
        "nodes": [{"id": "a", "type": "teleport"}],
        "edges": [{"id": "e", "source": "a", "target": "ghost"}],
    }
    response = await client.post(
        "/api/v1/workflows", json={"name": "x", "graph_data": graph}, headers=me
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_graph"
    assert {p["type"] for p in body["detail"]} >= {"unknown_node_type", "dangling_edge"}


async def test_others_get_404_admins_see_everything_and_delete_is_soft(
    client: httpx.AsyncClient, me: dict[str, str], settings: WorkflowEngineSettings
) -> None:
    wid = (await _create(client, me))["id"]
    stranger, admin = headers(settings, "u2"), headers(settings, "u3", "admin")

    for method, path in [
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("GET", "/versions"),
        ("GET", "/runs"),
    ]:
        response = await client.request(
            method, f"/api/v1/workflows/{wid}{path}", json={}, headers=stranger
        )
        assert (response.status_code, response.json()["code"]) == (404, "workflow_not_found")
    assert wid not in {
        w["id"] for w in (await client.get("/api/v1/workflows", headers=stranger)).json()
    }
    assert (await client.get(f"/api/v1/workflows/{wid}", headers=admin)).status_code == 200

    assert (await client.delete(f"/api/v1/workflows/{wid}", headers=me)).json() == {"ok": True}
    assert (await client.get(f"/api/v1/workflows/{wid}", headers=me)).status_code == 404


async def test_the_room_workflow_is_upserted_by_staff_and_read_by_members(
    client: httpx.AsyncClient, settings: WorkflowEngineSettings, store: MemoryStore
) -> None:
    teacher = headers(settings, "t1", room_role="teacher")
    student = headers(settings, "s1", "student", room_role="student")
    assert (await client.get("/api/v1/rooms/r5/workflow", headers=student)).json() is None

    denied = await client.put("/api/v1/rooms/r5/workflow", json={"name": "Mine"}, headers=student)
    assert (denied.status_code, denied.json()["code"]) == (403, "not_room_staff")
    created = (await client.put("/api/v1/rooms/r5/workflow", json={}, headers=teacher)).json()
    assert (created["name"], created["is_active"]) == ("Default Workflow", True)
    updated = await client.put(
        "/api/v1/rooms/r5/workflow", json={"graph_data": EDITOR_CHAIN}, headers=teacher
    )
    assert (updated.json()["id"], updated.json()["version"]) == (created["id"], 2)
    read = (await client.get("/api/v1/rooms/r5/workflow", headers=student)).json()
    assert (read["id"], len(read["graph_data"]["nodes"])) == (created["id"], 3)
    # The gateway owns the room's attachment: only the attaching upsert is announced, once.
    attached = [e.data for e in store.published if isinstance(e, RoomWorkflowAttachedV1)]
    assert [(a.room_id, a.workflow_id, a.attached_by) for a in attached] == [
        ("r5", created["id"], "t1")
    ]


async def test_execute_is_202_idempotent_and_a_queued_run_cancels_at_once(
    client: httpx.AsyncClient, me: dict[str, str], store: MemoryStore
) -> None:
    wid = (await _create(client, me, graph=EDITOR_CHAIN))["id"]
    path = f"/api/v1/workflows/{wid}"
    body = {"room_id": "r1", "input": {"content": "hi"}}
    first = await client.post(f"{path}/execute", json=body, headers={**me, "Idempotency-Key": "k1"})
    again = await client.post(f"{path}/execute", json=body, headers={**me, "Idempotency-Key": "k1"})
    other = await client.post(f"{path}/execute", json=body, headers=me)

    assert first.status_code == 202
    assert first.json()["status"] == "queued"
    assert again.json()["run_id"] == first.json()["run_id"] != other.json()["run_id"]
    assert len([e for e in store.published if isinstance(e, RunQueuedV1)]) == 2
    run_id = first.json()["run_id"]
    detail = (await client.get(f"{path}/runs/{run_id}", headers=me)).json()
    assert (detail["workflow_version"], detail["room_id"], detail["input"]) == (
        1,
        "r1",
        {"content": "hi"},
    )

    cancel = await client.post(f"{path}/runs/{run_id}/cancel", headers=me)
    assert (cancel.status_code, cancel.json()["status"]) == (202, "cancelled")
    assert [e.data.run_id for e in store.published if isinstance(e, RunCancelledV1)] == [run_id]
    resume = await client.post(f"{path}/runs/{run_id}/resume", json={"input": "x"}, headers=me)
    assert (resume.status_code, resume.json()["code"]) == (409, "run_already_finished")
    retry = await client.post(f"{path}/runs/{run_id}/retry", headers=me)
    assert retry.status_code == 202
    assert retry.json()["run_id"] != run_id
    listed = (await client.get(f"{path}/runs", headers=me)).json()
    assert [r["id"] for r in listed][0] == retry.json()["run_id"]
