"""``GET /internal/runs/{run_id}``: the gateway's lookup of a run's room and creator."""

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


@pytest.fixture
async def client(memory_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
        yield http


@pytest.fixture
def auth(settings: WorkflowEngineSettings) -> dict[str, str]:
    # A stranger to the workflow: the gateway, not the engine, decides who may follow a run.
    identity = InternalIdentity(user_id="someone-else", platform_role="student")
    secret = settings.internal_token_secret.get_secret_value()
    return {HEADER: sign_identity(secret, identity, audience="workflow-engine")}


async def test_a_run_is_looked_up_by_id_alone(
    client: httpx.AsyncClient, auth: dict[str, str], service: WorkflowEngineService, fired: Fired
) -> None:
    run = await service.queue_run_for_firing(fired(room_id="r9"))
    assert run is not None

    response = await client.get(f"/internal/runs/{run.id}", headers=auth)

    assert response.status_code == 200
    assert response.json() == {
        "run_id": run.id,
        "workflow_id": "w1",
        "room_id": "r9",
        "created_by": run.created_by,
        "status": "queued",
    }


async def test_unknown_runs_are_404_run_not_found(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get("/internal/runs/nope", headers=auth)
    assert response.status_code == 404
    assert response.json()["code"] == "run_not_found"


async def test_the_lookup_needs_a_signed_identity(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/runs/nope")
    assert response.status_code == 401
