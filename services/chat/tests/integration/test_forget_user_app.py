"""Forgetting a user through the running chat app: the gateway's event on JetStream erases the
user's messages in every room (PostgreSQL) and each room gets its tombstone on JetStream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js.client import JetStreamContext

from coagent_chat.app import create_app
from coagent_chat.settings import ChatSettings
from coagent_cli.testing import eventually
from coagent_contracts.chat import MessagesErasedV1, messages_erased_subject
from coagent_contracts.gateway import UserForgottenData, UserForgottenV1
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.broker import event_headers

pytestmark = pytest.mark.integration

DEADLINE_S = 20.0


@pytest.fixture
async def app(nats_url: str, database_url: str, settings: ChatSettings) -> AsyncIterator[FastAPI]:
    cfg = settings.model_copy(update={"nats_url": nats_url, "database_url": database_url})
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://chat") as client:
        yield client


def _as(settings: ChatSettings, user_id: str) -> dict[str, str]:
    secret = settings.internal_token_secret.get_secret_value()
    identity = InternalIdentity(user_id=user_id, platform_role="student", resource_role="member")
    return {HEADER: sign_identity(secret, identity, "chat")}


async def _history(http: httpx.AsyncClient, headers: dict[str, str], room: str) -> list[Any]:
    response = await http.get(f"/internal/rooms/{room}/messages", headers=headers)
    assert response.status_code == 200, response.text
    body: list[Any] = response.json()
    return body


async def _publish(js: JetStreamContext, event: UserForgottenV1) -> None:
    await js.publish(event.subject, event.model_dump_json().encode(), headers=event_headers(event))


async def test_the_forgotten_users_messages_leave_every_room(
    http: httpx.AsyncClient, nc: NatsClient, settings: ChatSettings
) -> None:
    gone, kept = f"u-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}"
    rooms = [f"it-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    as_gone, as_kept = _as(settings, gone), _as(settings, kept)
    for room in rooms:
        for text, headers in [("mine 1", as_gone), ("theirs", as_kept), ("mine 2", as_gone)]:
            posted = await http.post(
                f"/internal/rooms/{room}/messages", json={"content": text}, headers=headers
            )
            assert posted.status_code == 201, posted.text
    js = nc.jetstream()
    subs = [
        await js.subscribe(messages_erased_subject(room), stream="CHAT", ordered_consumer=True)
        for room in rooms
    ]
    try:
        event = UserForgottenV1(
            producer="gateway", data=UserForgottenData(user_id=gone, forgotten_by="admin-1")
        )
        await _publish(js, event)

        async def only_theirs_left() -> bool:
            for room in rooms:
                left = await _history(http, as_kept, room)
                if [(m["content"], m["sender_id"]) for m in left] != [("theirs", kept)]:
                    return False
            return True

        await eventually(only_theirs_left, "the user's messages erased", timeout_s=DEADLINE_S)
        stones = [
            MessagesErasedV1.model_validate_json((await sub.next_msg(DEADLINE_S)).data)
            for sub in subs
        ]
        # Forgetting again (a new request, so a new event) finds nothing and announces nothing.
        again = UserForgottenV1(producer="gateway", data=event.data)
        await _publish(js, again)
        for sub in subs:
            with pytest.raises(nats.errors.TimeoutError):
                await sub.next_msg(0.5)
    finally:
        for sub in subs:
            await sub.unsubscribe()

    for room, stone in zip(rooms, stones, strict=True):
        assert (stone.data.room_id, stone.data.seqs) == (room, (1, 3))
        assert (stone.data.reason, stone.data.forgotten_by) == ("forgotten", "admin-1")
        assert stone.causation_id == event.event_id
