"""Webhooks and overlap rules through the whole trigger service, real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from coagent_cli.testing import eventually
from coagent_contracts.envelope import Event
from coagent_contracts.streams import WORKFLOW
from coagent_contracts.trigger import run_cancel_requested_subject, trigger_fired_subject
from coagent_contracts.workflow import (
    RunCompletedData,
    RunCompletedV1,
    RunQueuedData,
    RunQueuedV1,
)
from coagent_kit.broker import event_headers
from coagent_trigger.hooks import sign
from coagent_trigger.overlap_service import RUN_EVENT_CONSUMERS
from coagent_trigger.settings import TriggerSettings

from .app_kit import api_client, running_app

pytestmark = pytest.mark.integration

DEADLINE_S = 15.0


@pytest.fixture
async def app(
    nats_url: str, database_url: str, settings: TriggerSettings
) -> AsyncIterator[FastAPI]:
    fresh = [(WORKFLOW.name, durable) for durable in RUN_EVENT_CONSUMERS.values()]
    async with running_app(settings, nats_url, database_url, fresh) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI, settings: TriggerSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app, settings, role="teacher") as http:
        yield http


async def stored(nc: NatsClient, subject: str) -> int:
    info = await nc.jetstream().stream_info("TRIGGER", subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


async def publish(nc: NatsClient, event: Event) -> None:
    """Publish as the engine's outbox relay does."""
    headers = event_headers(event)
    await nc.jetstream().publish(event.subject, event.model_dump_json().encode(), headers=headers)


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    room = f"it-room-{uuid.uuid4().hex[:10]}"
    payload = {"target_workflow_id": "wf-it", "scope_session_id": room, **body}
    response = await client.post("/api/v1/triggers", json=payload)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def lifecycle(firing: dict[str, Any], room: str, policy_id: str, run_id: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "workflow_id": "wf-it",
        "workflow_version": 1,
        "room_id": room,
        "firing_key": firing["firing_key"],
        "policy_id": policy_id,
    }


async def test_concurrent_identical_deliveries_fire_once(
    client: httpx.AsyncClient, nc: NatsClient
) -> None:
    policy = await create(client, event_type="webhook", conditions={})
    body = json.dumps({"build": 7}).encode()
    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "X-CoAgent-Timestamp": stamp,
        "X-CoAgent-Signature": sign(policy["signing_secret"], stamp, body),
        "X-CoAgent-Delivery": "delivery-1",
    }
    url = f"/api/v1/hooks/{policy['id']}"

    answers = await asyncio.gather(
        *(client.post(url, content=body, headers=headers) for _ in range(5))
    )

    assert [a.status_code for a in answers] == [202] * 5, [a.text for a in answers]
    assert len({a.json()["firing_id"] for a in answers}) == 1
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True, True, True]
    subject = trigger_fired_subject(policy["id"])
    await eventually(lambda: stored(nc, subject), "the firing on JetStream", timeout_s=DEADLINE_S)
    await asyncio.sleep(0.5)
    assert await stored(nc, subject) == 1
    log = (await client.get(f"/api/v1/triggers/{policy['id']}/firings")).json()
    assert len(log) == 1


async def test_a_buffered_firing_fires_when_the_run_ends(
    client: httpx.AsyncClient, nc: NatsClient
) -> None:
    policy = await create(client, event_type="manual", conditions={"overlap": "buffer_one"})
    policy_id, room = policy["id"], policy["scope_session_id"]
    fire = f"/api/v1/triggers/{policy_id}/fire"
    first = (await client.post(fire)).json()
    second = (await client.post(fire)).json()
    subject = trigger_fired_subject(policy_id)
    await eventually(lambda: stored(nc, subject), "the first firing", timeout_s=DEADLINE_S)

    keys = lifecycle(first, room, policy_id, f"run-{uuid.uuid4().hex[:8]}")
    await publish(nc, RunQueuedV1(producer="workflow-engine", data=RunQueuedData(**keys)))
    await asyncio.sleep(0.3)
    assert await stored(nc, subject) == 1  # still held back while the run goes
    await publish(nc, RunCompletedV1(producer="workflow-engine", data=RunCompletedData(**keys)))

    async def released() -> bool:
        return await stored(nc, subject) == 2

    await eventually(released, "the buffered firing to be published", timeout_s=DEADLINE_S)
    log = {f["id"]: f for f in (await client.get(f"/api/v1/triggers/{policy_id}/firings")).json()}
    assert log[first["firing_id"]]["outcome"] == "fired"
    assert log[second["firing_id"]]["outcome"] == "fired"
    assert log[second["firing_id"]]["detail"]["released_after_run_id"] == keys["run_id"]


async def test_cancel_running_asks_the_engine_to_stop_the_previous_run(
    client: httpx.AsyncClient, nc: NatsClient
) -> None:
    policy = await create(client, event_type="manual", conditions={"overlap": "cancel_running"})
    policy_id, room = policy["id"], policy["scope_session_id"]
    fire = f"/api/v1/triggers/{policy_id}/fire"
    first = (await client.post(fire)).json()
    second = (await client.post(fire)).json()  # the first run's id is not known yet
    assert second["firing_key"] != first["firing_key"]
    cancel_subject = run_cancel_requested_subject(policy_id)
    assert await stored(nc, cancel_subject) == 0

    keys = lifecycle(first, room, policy_id, f"run-{uuid.uuid4().hex[:8]}")
    await publish(nc, RunQueuedV1(producer="workflow-engine", data=RunQueuedData(**keys)))

    async def asked() -> bool:
        return await stored(nc, cancel_subject) == 1

    await eventually(asked, "the cancel request", timeout_s=DEADLINE_S)
    raw = await nc.jetstream().get_last_msg("TRIGGER", cancel_subject)
    request = json.loads(raw.data or b"{}")["data"]
    assert (request["run_id"], request["firing_key"]) == (keys["run_id"], first["firing_key"])
    assert await stored(nc, trigger_fired_subject(policy_id)) == 2
