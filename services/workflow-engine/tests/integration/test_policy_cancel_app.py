"""A policy's ``cancel_running`` request reaches the engine over JetStream and stops its run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from coagent_cli.testing import eventually
from coagent_contracts.envelope import Event
from coagent_contracts.trigger import (
    TriggerFiredV1,
    TriggerRunCancelRequestedData,
    TriggerRunCancelRequestedV1,
)
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.broker import event_headers
from coagent_workflow_engine.app import create_app
from coagent_workflow_engine.settings import WorkflowEngineSettings

pytestmark = pytest.mark.integration

Fired = Callable[..., TriggerFiredV1]
DEADLINE_S = 15.0
#: start → a question to a human → end: the run waits, interrupted, until it is answered.
ASKS_A_HUMAN = {
    "schema_version": 1,
    "nodes": [
        {"id": "start", "type": "start"},
        {"id": "ask", "type": "human_input", "config": {"prompt": "Go on?"}},
        {"id": "end", "type": "end"},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "ask"},
        {"id": "e2", "source": "ask", "target": "end"},
    ],
}


@pytest.fixture
async def app(
    nats_url: str, database_url: str, settings: WorkflowEngineSettings
) -> AsyncIterator[FastAPI]:
    cfg = settings.model_copy(update={"nats_url": nats_url, "database_url": database_url})
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(
    app: FastAPI, settings: WorkflowEngineSettings
) -> AsyncIterator[httpx.AsyncClient]:
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(
        secret, InternalIdentity(user_id="u1", platform_role="admin"), "workflow-engine"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://engine", headers={HEADER: token}
    ) as http:
        yield http


async def publish(nc: NatsClient, event: Event) -> None:
    headers = event_headers(event)
    await nc.jetstream().publish(event.subject, event.model_dump_json().encode(), headers=headers)


def cancel(
    firing: TriggerFiredV1, run_id: str, policy_id: str | None = None
) -> TriggerRunCancelRequestedV1:
    return TriggerRunCancelRequestedV1(
        producer="trigger",
        data=TriggerRunCancelRequestedData(
            policy_id=policy_id or firing.data.policy_id,
            run_id=run_id,
            room_id=firing.data.room_id,
            firing_key=firing.data.firing_key,
        ),
    )


async def test_the_policys_waiting_run_is_cancelled_and_no_other(
    client: httpx.AsyncClient, nc: NatsClient, fired: Fired, seed: Any
) -> None:
    workflow = f"wf-{uuid.uuid4().hex[:12]}"
    await seed(workflow, ASKS_A_HUMAN)
    policy_id = f"p-{uuid.uuid4().hex[:8]}"
    firing = fired(workflow_id=workflow, policy_id=policy_id)
    await publish(nc, firing)

    async def waiting() -> dict[str, Any] | None:
        runs: list[dict[str, Any]] = (await client.get(f"/api/v1/workflows/{workflow}/runs")).json()
        return runs[0] if runs and runs[0]["status"] == "interrupted" else None

    run = await eventually(waiting, "the run to wait for a human", timeout_s=DEADLINE_S)
    run_path = f"/api/v1/workflows/{workflow}/runs/{run['id']}"

    await publish(nc, cancel(firing, run["id"], policy_id="someone-else"))
    await asyncio.sleep(1.0)
    assert (await client.get(run_path)).json()["status"] == "interrupted"

    await publish(nc, cancel(firing, run["id"]))

    async def cancelled() -> bool:
        return bool((await client.get(run_path)).json()["status"] == "cancelled")

    await eventually(cancelled, "the run to be cancelled", timeout_s=DEADLINE_S)
