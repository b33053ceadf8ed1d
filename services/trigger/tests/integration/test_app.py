"""The whole trigger service (composition root) against the real NATS and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from coagent_cli.testing import eventually
from coagent_contracts.chat import MessagePostedV1, message_posted_subject
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.broker import event_headers
from coagent_trigger.app import create_app
from coagent_trigger.service import ROOM_ACTIVITY_CONSUMER
from coagent_trigger.settings import TriggerSettings

pytestmark = pytest.mark.integration

Posted = Callable[..., MessagePostedV1]
DEADLINE_S = 10.0


@pytest.fixture(scope="module")
def database_url(service_database_url: Callable[[str], str]) -> str:
    # Sync on purpose: migrating runs its own event loop, which cannot start inside a running one.
    return service_database_url("trigger")


@pytest.fixture
async def app(
    nats_url: str, database_url: str, settings: TriggerSettings
) -> AsyncIterator[FastAPI]:
    cfg = settings.model_copy(update={"nats_url": nats_url, "database_url": database_url})
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI, settings: TriggerSettings) -> AsyncIterator[httpx.AsyncClient]:
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(secret, InternalIdentity(user_id="u1", platform_role="admin"), "trigger")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://trigger", headers={HEADER: token}
    ) as http:
        yield http


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


async def publish(nc: NatsClient, event: MessagePostedV1) -> None:
    """Publish as chat's outbox relay does (``Nats-Msg-Id`` = event id)."""
    await nc.jetstream().publish(
        event.subject, event.model_dump_json().encode(), headers=event_headers(event)
    )


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
    await nc.jetstream().publish(message_posted_subject(room), b'{"type": "nonsense"}')
    await publish(nc, posted(1, "human", room))

    async def applied() -> bool:
        response = await client.get(f"/internal/rooms/{room}/activity")
        return response.status_code == 200

    await eventually(applied, "the valid message after the invalid one", timeout_s=DEADLINE_S)

    async def nothing_pending() -> bool:
        info = await nc.jetstream().consumer_info("CHAT", ROOM_ACTIVITY_CONSUMER)
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)

    # Terminated, not left to be redelivered until max_deliver.
    await eventually(nothing_pending, "the consumer to have nothing pending", timeout_s=DEADLINE_S)


async def test_unknown_room_is_404_through_the_real_app(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/rooms/never-seen/activity")
    assert response.status_code == 404
    assert response.json()["code"] == "room_activity_not_found"
