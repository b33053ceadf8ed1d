"""Forgetting and the background pruner through the running chat app (NATS and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from coagent_chat.app import create_app
from coagent_chat.settings import ChatSettings
from coagent_contracts.chat import MessagesErasedV1, messages_erased_subject
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

pytestmark = pytest.mark.integration

DEADLINE_S = 10.0


@pytest.fixture
async def app(nats_url: str, database_url: str, settings: ChatSettings) -> AsyncIterator[FastAPI]:
    cfg = settings.model_copy(
        update={"nats_url": nats_url, "database_url": database_url, "retention_interval_s": 0.2}
    )
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI, settings: ChatSettings) -> AsyncIterator[httpx.AsyncClient]:
    secret = settings.internal_token_secret.get_secret_value()
    identity = InternalIdentity(user_id="u1", platform_role="student", resource_role="teacher")
    token = sign_identity(secret, identity, "chat")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://chat", headers={HEADER: token}
    ) as http:
        yield http


async def test_idempotent_post_forget_and_pruning_reach_jetstream(
    client: httpx.AsyncClient, nc: NatsClient
) -> None:
    room = f"it-{uuid.uuid4().hex[:12]}"
    base = f"/internal/rooms/{room}"
    sub = await nc.jetstream().subscribe(
        messages_erased_subject(room), stream="CHAT", ordered_consumer=True
    )
    try:
        keyed = {"Idempotency-Key": "k-1"}
        first = await client.post(f"{base}/messages", json={"content": "one"}, headers=keyed)
        retry = await client.post(f"{base}/messages", json={"content": "one"}, headers=keyed)
        for i in range(2, 5):
            await client.post(f"{base}/messages", json={"content": f"m{i}"})
        assert (first.status_code, retry.status_code) == (201, 200)
        assert retry.json()["id"] == first.json()["id"]

        forget = await client.delete(f"{base}/messages/{first.json()['id']}")
        assert forget.status_code == 204
        forgotten = MessagesErasedV1.model_validate_json((await sub.next_msg(DEADLINE_S)).data)

        put = await client.put(f"{base}/retention", json={"max_messages": 1})
        assert put.status_code == 200
        pruned = MessagesErasedV1.model_validate_json((await sub.next_msg(DEADLINE_S)).data)
    finally:
        await sub.unsubscribe()

    assert (forgotten.data.seqs, forgotten.data.reason) == ((1,), "forgotten")
    assert (pruned.data.seqs, pruned.data.reason) == ((2, 3), "retention")
    history = (await client.get(f"{base}/messages")).json()
    assert [m["seq"] for m in history] == [4]
    activity = (await client.get(f"{base}/activity")).json()
    assert (activity["message_count"], activity["last_seq"]) == (4, 4)
