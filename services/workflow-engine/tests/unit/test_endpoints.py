"""The internal runs API over the memory-backed service, through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from coagent_contracts.trigger import TriggerFiredV1
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_workflow_engine.service import WorkflowEngineService
from coagent_workflow_engine.settings import WorkflowEngineSettings

Fired = Callable[..., TriggerFiredV1]
RUN_FIELDS = {
    "id",
    "workflow_id",
    "workflow_version",
    "status",
    "trigger",
    "room_id",
    "created_at",
    "started_at",
    "finished_at",
    "error",
    # extensions beyond CONTRACTS.md (compatible: new optional fields)
    "error_code",
    "pending_input",
    "output",
    "attempt",
    "parent_run_id",
}


@pytest.fixture
async def client(memory_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
        yield http


@pytest.fixture
def auth(settings: WorkflowEngineSettings) -> dict[str, str]:
    identity = InternalIdentity(user_id="u1", platform_role="teacher", resource_role="owner")
    secret = settings.internal_token_secret.get_secret_value()
    return {HEADER: sign_identity(secret, identity, audience="workflow-engine")}


async def test_runs_are_listed_newest_first_in_the_contract_shape(
    client: httpx.AsyncClient, auth: dict[str, str], service: WorkflowEngineService, fired: Fired
) -> None:
    older, newer = fired(policy_id="p1"), fired(policy_id="p2", room_id=None)
    for firing in (older, newer, fired(workflow_id="w2")):
        await service.queue_run_for_firing(firing)

    response = await client.get("/api/v1/workflows/w1/runs", headers=auth)

    assert response.status_code == 200
    body = response.json()
    assert [run["trigger"]["policy_id"] for run in body] == ["p2", "p1"]
    assert set(body[0]) == RUN_FIELDS
    assert body[1]["trigger"] == {
        "kind": "user_message",
        "policy_id": "p1",
        "firing_key": older.data.firing_key,
        "event_id": older.event_id,
    }
    assert body[1]["status"] == "queued"
    assert body[1]["room_id"] == "r1"
    assert body[0]["room_id"] is None
    assert body[1]["workflow_version"] == 1
    assert (body[1]["started_at"], body[1]["finished_at"], body[1]["error"]) == (None, None, None)


async def test_limit_is_applied_and_validated(
    client: httpx.AsyncClient, auth: dict[str, str], service: WorkflowEngineService, fired: Fired
) -> None:
    for _ in range(3):
        await service.queue_run_for_firing(fired())

    limited = await client.get("/api/v1/workflows/w1/runs", params={"limit": 2}, headers=auth)
    invalid = await client.get("/api/v1/workflows/w1/runs", params={"limit": 0}, headers=auth)

    assert len(limited.json()) == 2
    assert (invalid.status_code, invalid.json()["code"]) == (422, "validation_error")


async def test_a_run_is_readable_by_id(
    client: httpx.AsyncClient, auth: dict[str, str], service: WorkflowEngineService, fired: Fired
) -> None:
    run = await service.queue_run_for_firing(fired())
    assert run is not None

    response = await client.get(f"/api/v1/workflows/w1/runs/{run.id}", headers=auth)

    assert response.status_code == 200
    assert response.json()["id"] == run.id
    assert set(response.json()) == RUN_FIELDS | {"steps", "input"}
    assert response.json()["steps"] == []


async def test_a_run_of_another_workflow_is_a_typed_404(
    client: httpx.AsyncClient, auth: dict[str, str], service: WorkflowEngineService, fired: Fired
) -> None:
    run = await service.queue_run_for_firing(fired(workflow_id="w1"))
    assert run is not None

    elsewhere = await client.get(f"/api/v1/workflows/w2/runs/{run.id}", headers=auth)
    unknown = await client.get("/api/v1/workflows/w1/runs/nope", headers=auth)

    for response in (elsewhere, unknown):
        assert response.status_code == 404
        assert response.json()["code"] == "run_not_found"


@pytest.mark.parametrize("path", ["/api/v1/workflows/w1/runs", "/api/v1/workflows/w1/runs/x"])
async def test_no_identity_token_is_401(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.json()["code"] == "identity_missing"


async def test_a_token_for_another_service_is_401(
    client: httpx.AsyncClient, settings: WorkflowEngineSettings
) -> None:
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(secret, InternalIdentity(user_id="u1", platform_role="admin"), "trigger")
    response = await client.get("/api/v1/workflows/w1/runs", headers={HEADER: token})
    assert (response.status_code, response.json()["code"]) == (401, "identity_invalid")
