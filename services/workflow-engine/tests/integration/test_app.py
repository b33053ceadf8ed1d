"""The whole workflow engine (composition root) against the real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, DeliverPolicy

from coagent_cli.testing import eventually
from coagent_contracts.trigger import TriggerFiredV1, trigger_fired_subject
from coagent_contracts.workflow import RunQueuedV1
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.broker import event_headers
from coagent_workflow_engine.app import create_app
from coagent_workflow_engine.service import FIRINGS_CONSUMER
from coagent_workflow_engine.settings import WorkflowEngineSettings

pytestmark = pytest.mark.integration

Fired = Callable[..., TriggerFiredV1]
DEADLINE_S = 10.0


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
    identity = InternalIdentity(user_id="u1", platform_role="admin")
    token = sign_identity(secret, identity, "workflow-engine")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://engine", headers={HEADER: token}
    ) as http:
        yield http


@pytest.fixture
async def workflow(seed: Any) -> str:
    """A workflow of this test only (the servers are shared by the whole session)."""
    workflow_id = f"wf-{uuid.uuid4().hex[:12]}"
    await seed(workflow_id)
    return workflow_id


async def publish(nc: NatsClient, event: TriggerFiredV1, msg_id: str | None = None) -> None:
    """Publish as trigger's relay does; ``msg_id`` overrides the firing key as ``Nats-Msg-Id``."""
    headers = event_headers(event)
    if msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    await nc.jetstream().publish(event.subject, event.model_dump_json().encode(), headers=headers)


async def test_readiness_checks_postgres_and_nats(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgres": "ok", "nats": "ok"}


async def test_a_firing_becomes_one_run_and_one_relayed_event(
    client: httpx.AsyncClient, nc: NatsClient, fired: Fired, workflow: str
) -> None:
    queued = await nc.jetstream().subscribe(
        RunQueuedV1.FILTER,
        stream="WORKFLOW",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
    )
    firing = fired(workflow_id=workflow)
    await publish(nc, firing)
    await publish(nc, firing)  # deduplicated by JetStream (same firing key)
    # The same firing again past the dedup window: only the database's unique key stops it.
    await publish(nc, firing, msg_id=f"replayed-{firing.event_id}")

    async def listed() -> list[dict[str, Any]]:
        response = await client.get(f"/api/v1/workflows/{workflow}/runs")
        body: list[dict[str, Any]] = response.json()
        return body

    [run] = await eventually(listed, "the run of the firing", timeout_s=DEADLINE_S)
    assert run["trigger"]["firing_key"] == firing.data.firing_key
    assert run["status"] in ("queued", "running", "succeeded")  # the workers pick it up at once

    async def announced() -> RunQueuedV1:
        while True:
            msg = await queued.next_msg(timeout=DEADLINE_S)
            event = RunQueuedV1.model_validate_json(msg.data)
            if event.data.workflow_id == workflow:
                return event

    event = await asyncio.wait_for(announced(), DEADLINE_S)
    assert event.data.run_id == run["id"]

    async def settled() -> bool:
        info = await nc.jetstream().consumer_info("TRIGGER", FIRINGS_CONSUMER)
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)

    await eventually(settled, "the firings consumer to settle", timeout_s=DEADLINE_S)
    response = await client.get(f"/api/v1/workflows/{workflow}/runs")
    assert len(response.json()) == 1
    detail = await client.get(f"/api/v1/workflows/{workflow}/runs/{run['id']}")
    assert detail.json()["id"] == run["id"]
    await queued.unsubscribe()


async def test_an_invalid_firing_is_terminated_and_the_consumer_goes_on(
    client: httpx.AsyncClient, nc: NatsClient, fired: Fired, workflow: str
) -> None:
    await nc.jetstream().publish(trigger_fired_subject("p-bad"), b'{"type": "nonsense"}')
    await publish(nc, fired(workflow_id=workflow))

    async def listed() -> bool:
        response = await client.get(f"/api/v1/workflows/{workflow}/runs")
        return len(response.json()) == 1

    await eventually(listed, "the valid firing after the invalid one", timeout_s=DEADLINE_S)

    async def nothing_pending() -> bool:
        info = await nc.jetstream().consumer_info("TRIGGER", FIRINGS_CONSUMER)
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)

    # Terminated, not left to be redelivered until max_deliver.
    await eventually(nothing_pending, "the consumer to have nothing pending", timeout_s=DEADLINE_S)


async def test_unknown_run_is_404_through_the_real_app(
    client: httpx.AsyncClient, workflow: str
) -> None:
    response = await client.get(f"/api/v1/workflows/{workflow}/runs/nope")
    assert (response.status_code, response.json()["code"]) == (404, "run_not_found")
