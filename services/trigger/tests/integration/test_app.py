"""The whole trigger service (composition root) against the real NATS and PostgreSQL."""

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
from coagent_contracts.chat import MessagePostedV1, message_posted_subject
from coagent_contracts.streams import CHAT
from coagent_contracts.trigger import TriggerFiredV1, firing_key, trigger_fired_subject
from coagent_kit.broker import event_headers
from coagent_trigger.policy_service import MESSAGE_POLICIES_CONSUMER
from coagent_trigger.service import ROOM_ACTIVITY_CONSUMER
from coagent_trigger.settings import TriggerSettings

from .app_kit import api_client, running_app

pytestmark = pytest.mark.integration

Posted = Callable[..., MessagePostedV1]
DEADLINE_S = 10.0


@pytest.fixture
async def app(
    nats_url: str, database_url: str, settings: TriggerSettings
) -> AsyncIterator[FastAPI]:
    fresh = [(CHAT.name, MESSAGE_POLICIES_CONSUMER)]
    async with running_app(settings, nats_url, database_url, fresh) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI, settings: TriggerSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app, settings) as http:
        yield http


async def publish(nc: NatsClient, event: MessagePostedV1, msg_id: str | None = None) -> None:
    """Publish as chat's outbox relay does (``Nats-Msg-Id`` = event id, unless ``msg_id``)."""
    headers = event_headers(event)
    if msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    await nc.jetstream().publish(event.subject, event.model_dump_json().encode(), headers=headers)


async def test_readiness_checks_postgres_and_nats(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgres": "ok", "nats": "ok"}


async def test_posted_messages_reach_the_projection_through_jetstream(
    client: httpx.AsyncClient, nc: NatsClient, posted: Posted
) -> None:
    room = "it-room-jetstream"
    human, agent = posted(1, "human", room), posted(2, "agent", room)
    for event in (human, agent, human):  # the repeat is a duplicate publish: one message
        await publish(nc, event)

    async def counted_both() -> dict[str, Any] | None:
        response = await client.get(f"/internal/rooms/{room}/activity")
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and body["message_count"] >= 2 else None

    body = await eventually(counted_both, "both messages in the projection", timeout_s=DEADLINE_S)
    assert body["last_seq"] == 2
    assert body["message_count"] == 2


async def test_an_invalid_message_is_terminated_and_the_consumer_goes_on(
    client: httpx.AsyncClient, nc: NatsClient, posted: Posted
) -> None:
    room = "it-room-invalid"
    invalid = await nc.jetstream().publish(message_posted_subject(room), b'{"type": "nonsense"}')
    await publish(nc, posted(1, "human", room))

    async def applied() -> bool:
        response = await client.get(f"/internal/rooms/{room}/activity")
        return response.status_code == 200

    await eventually(applied, "the valid message after the invalid one", timeout_s=DEADLINE_S)

    async def settled_past_the_invalid_one() -> bool:
        # The ack floor passes a message only once it is settled: terminated, not left to be
        # redelivered until max_deliver. (Other tests' history on the shared stream may still
        # be flowing behind it, so "nothing pending" at all would measure the wrong thing.)
        info = await nc.jetstream().consumer_info("CHAT", ROOM_ACTIVITY_CONSUMER)
        return bool(info.ack_floor.stream_seq >= invalid.seq)

    await eventually(
        settled_past_the_invalid_one, "the invalid message to be settled", timeout_s=DEADLINE_S
    )


async def test_unknown_room_is_404_through_the_real_app(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/rooms/never-seen/activity")
    assert response.status_code == 404
    assert response.json()["code"] == "room_activity_not_found"


async def _fired_count(nc: NatsClient, policy_id: str) -> int:
    """``TriggerFiredV1`` messages of ``policy_id`` stored in the TRIGGER stream."""
    subject = trigger_fired_subject(policy_id)
    info = await nc.jetstream().stream_info("TRIGGER", subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


async def _policies_idle(nc: NatsClient) -> bool:
    info = await nc.jetstream().consumer_info("CHAT", MESSAGE_POLICIES_CONSUMER)
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


async def test_a_matching_message_delivered_twice_fires_exactly_once(
    client: httpx.AsyncClient, nc: NatsClient, posted: Posted
) -> None:
    room = f"it-room-{uuid.uuid4().hex[:10]}"
    created = await client.post(
        "/api/v1/triggers",
        json={
            "name": "deploys",
            "event_type": "user_message",
            "conditions": {"keyword": "deploy"},
            "target_workflow_id": "wf-it",
            "scope_session_id": room,
            "is_active": True,
        },
    )
    assert created.status_code == 201, created.text
    policy_id = created.json()["id"]
    matching = posted(1, "human", room, content="please deploy now")
    await publish(nc, matching)
    # The same event again under another Nats-Msg-Id: JetStream stores it, so the consumer
    # really receives it twice and only the inbox and the firing key stand in the way.
    await publish(nc, matching, msg_id=f"again-{matching.event_id}")
    await publish(nc, posted(2, "human", room, content="nothing to see"))

    async def one_published() -> bool:
        return await _fired_count(nc, policy_id) >= 1 and await _policies_idle(nc)

    await eventually(one_published, "the firing to reach JetStream", timeout_s=DEADLINE_S)
    await asyncio.sleep(0.5)  # room for a wrong second firing to show up

    assert await _fired_count(nc, policy_id) == 1
    raw = await nc.jetstream().get_last_msg("TRIGGER", trigger_fired_subject(policy_id))
    event = TriggerFiredV1.model_validate_json(raw.data or b"")
    assert event.msg_id == firing_key(policy_id, source_event_id=matching.event_id)
    assert raw.headers is not None
    assert raw.headers["Nats-Msg-Id"] == event.msg_id
    assert event.data.payload["message"]["content"] == "please deploy now"
    log = (await client.get(f"/api/v1/triggers/{policy_id}/firings")).json()
    assert [f["firing_key"] for f in log] == [event.msg_id]


async def test_a_non_matching_message_fires_nothing(
    client: httpx.AsyncClient, nc: NatsClient, posted: Posted
) -> None:
    room = f"it-room-{uuid.uuid4().hex[:10]}"
    created = await client.post(
        "/api/v1/triggers",
        json={
            "event_type": "user_message",
            "conditions": {"regex": "^/summari[sz]e"},
            "target_workflow_id": "wf-it",
            "scope_session_id": room,
        },
    )
    policy_id = created.json()["id"]
    await publish(nc, posted(1, "human", room, content="please /summarize"))
    await publish(nc, posted(2, "agent", room, content="/summarize"))

    async def activity_seen() -> bool:
        response = await client.get(f"/internal/rooms/{room}/activity")
        return response.status_code == 200 and response.json()["message_count"] == 2

    await eventually(activity_seen, "both messages consumed", timeout_s=DEADLINE_S)
    await eventually(lambda: _policies_idle(nc), "policies consumer idle", timeout_s=DEADLINE_S)
    await asyncio.sleep(0.5)

    assert await _fired_count(nc, policy_id) == 0
    assert (await client.get(f"/api/v1/triggers/{policy_id}/firings")).json() == []


async def test_a_nul_character_is_a_422_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/triggers",
        json={"name": "bad\x00name", "event_type": "manual", "target_workflow_id": "wf"},
    )
    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
