"""The whole chat service (composition root) against the real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from prometheus_client.parser import text_string_to_metric_families

from coagent_chat.app import create_app
from coagent_chat.settings import ChatSettings
from coagent_cli.testing import eventually
from coagent_contracts.chat import MessagePostedV1, message_posted_subject
from coagent_contracts.workflow import AgentMessageProducedV1
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.broker import event_headers

pytestmark = pytest.mark.integration

AgentReply = Callable[..., AgentMessageProducedV1]
DEADLINE_S = 10.0


@pytest.fixture
async def app(nats_url: str, database_url: str, settings: ChatSettings) -> AsyncIterator[FastAPI]:
    cfg = settings.model_copy(update={"nats_url": nats_url, "database_url": database_url})
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI, settings: ChatSettings) -> AsyncIterator[httpx.AsyncClient]:
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(secret, InternalIdentity(user_id="u1", platform_role="student"), "chat")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://chat", headers={HEADER: token}
    ) as http:
        yield http


async def test_readiness_checks_postgres_and_nats(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgres": "ok", "nats": "ok"}


async def test_a_posted_message_is_relayed_to_jetstream(
    client: httpx.AsyncClient, nc: NatsClient
) -> None:
    room = f"it-{uuid.uuid4().hex[:12]}"
    js = nc.jetstream()
    # An ephemeral push consumer on this room's subject only, delivering new messages.
    sub = await js.subscribe(message_posted_subject(room), stream="CHAT", ordered_consumer=True)
    try:
        response = await client.post(
            f"/internal/rooms/{room}/messages", json={"content": "over the wire"}
        )
        assert response.status_code == 201
        posted = response.json()

        msg = await sub.next_msg(timeout=DEADLINE_S)
    finally:
        await sub.unsubscribe()

    assert msg.subject == f"chat.room.{room}.message.posted.v1"
    event = MessagePostedV1.model_validate_json(msg.data)
    assert (event.data.room_id, event.data.seq, event.data.content) == (room, 1, "over the wire")
    assert event.data.message_id == posted["id"]
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == event.msg_id
    assert msg.headers["Coagent-Event-Type"] == "chat.message.posted"


async def test_an_agent_reply_on_jetstream_is_stored_in_the_room(
    client: httpx.AsyncClient, nc: NatsClient, agent_reply: AgentReply
) -> None:
    room = f"it-{uuid.uuid4().hex[:12]}"
    event = agent_reply(room, "the agent speaks")
    for _ in range(2):  # a duplicate publish is dropped by JetStream and by the inbox
        await nc.jetstream().publish(
            event.subject, event.model_dump_json().encode(), headers=event_headers(event)
        )

    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        body = (await client.get(f"/internal/rooms/{room}/messages")).json()
        if body:
            break
        if loop.time() > deadline:
            pytest.fail("the agent reply never reached the room history")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    body = (await client.get(f"/internal/rooms/{room}/messages")).json()
    assert [(m["seq"], m["sender_kind"], m["content"]) for m in body] == [
        (1, "agent", "the agent speaks")
    ]
    assert body[0]["agent_id"] == "a1"


async def test_metrics_show_stored_messages_and_the_consumers_depth(
    client: httpx.AsyncClient,
) -> None:
    room = f"it-{uuid.uuid4().hex[:12]}"
    response = await client.post(f"/internal/rooms/{room}/messages", json={"content": "counted"})
    assert response.status_code == 201

    async def scraped() -> dict[tuple[str, str], float] | None:
        text = (await client.get("/metrics")).text
        samples = {
            (s.name, s.labels.get("sender_kind") or s.labels.get("consumer", "")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        depth = ("coagent_jetstream_consumer_num_pending", "chat-agent-messages")
        return samples if depth in samples else None

    samples = await eventually(scraped, "the consumer gauges", timeout_s=DEADLINE_S)
    assert samples[("coagent_chat_messages_stored_total", "human")] >= 1
    assert ("coagent_jetstream_consumer_num_ack_pending", "chat-agent-messages") in samples
