"""Presence and typing: leases, rate limits, frame shapes, and their way through both sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from coagent_gateway.chat.endpoints import _pump
from coagent_gateway.chat.live import Outbox, RoomHub
from coagent_gateway.chat.multiplex import MuxSession
from coagent_gateway.chat.presence import (
    MemoryPresenceStore,
    MemoryTypingLimiter,
    PresenceEntry,
    ephemeral_frame,
    presence_frame,
    typing_frame,
)
from coagent_gateway.domain import PlatformRole, User
from coagent_kit.auth import InternalIdentity

from .test_chat_multiplex import FakeChat, FakeSocket, frame

ADA = User("u1", "ada@example.org", "ada", PlatformRole.STUDENT, full_name="Ada")
BOB = User("u2", "bob@example.org", "bob", PlatformRole.STUDENT, full_name="Bob")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _drain_outbox(outbox: Outbox) -> list[dict[str, Any]]:
    frames = []
    while not outbox.queue.empty():
        frames.append(outbox.queue.get_nowait()[1])
    return frames


async def test_presence_leases_expire_and_one_user_counts_once() -> None:
    clock = Clock()
    store = MemoryPresenceStore(clock)
    await store.touch("r", PresenceEntry("s1", "u2", "Bob"), ttl_s=45)
    await store.touch("r", PresenceEntry("s2", "u1", "Ada"), ttl_s=45)
    await store.touch("r", PresenceEntry("s3", "u1", "Ada"), ttl_s=10)  # a second tab
    assert await store.members("r") == [
        {"user_id": "u1", "name": "Ada"},
        {"user_id": "u2", "name": "Bob"},
    ]
    await store.drop("r", PresenceEntry("s2", "u1", "Ada"))
    assert [u["user_id"] for u in await store.members("r")] == ["u1", "u2"]  # s3 still there
    clock.now += 11
    assert [u["user_id"] for u in await store.members("r")] == ["u2"]
    clock.now += 40
    assert await store.members("r") == []


async def test_typing_is_limited_per_user_and_room() -> None:
    clock = Clock()
    limiter = MemoryTypingLimiter(interval_s=2, clock=clock)
    assert await limiter.allow("r", "u1")
    assert not await limiter.allow("r", "u1")
    assert await limiter.allow("r", "u2")
    assert await limiter.allow("other", "u1")
    clock.now += 2
    assert await limiter.allow("r", "u1")


def test_ephemeral_frames_never_look_like_chat_messages() -> None:
    presence = presence_frame("r", [{"user_id": "u1", "name": "Ada"}])
    typing = typing_frame("r", "u1", "Ada")
    assert presence == {
        "type": "presence",
        "room_id": "r",
        "users": [{"user_id": "u1", "name": "Ada"}],
    }
    assert typing == {
        "type": "typing",
        "room_id": "r",
        "user_id": "u1",
        "name": "Ada",
        "expires_in_s": 5,
    }
    for shape in (presence, typing):  # the reference client drops frames without `sender`
        assert "sender" not in shape
        assert "content" not in shape
        assert ephemeral_frame("r", json.dumps(shape).encode()) == shape
    assert ephemeral_frame("other", json.dumps(typing).encode()) is None
    assert ephemeral_frame("r", b'{"type":"message","room_id":"r","sender":"x"}') is None
    assert ephemeral_frame("r", b'{"type":"typing","room_id":"r","content":"x"}') is None
    assert ephemeral_frame("r", b"not json") is None


async def test_entering_and_leaving_announce_who_is_there() -> None:
    hub = RoomHub("nats://unused", presence=MemoryPresenceStore())
    watcher = Outbox()
    await hub.enter("r", watcher, "u2", "Bob")
    ada = await hub.enter("r", Outbox(), "u1", "Ada")
    await hub.exit(ada)
    users = [[u["name"] for u in f["users"]] for f in _drain_outbox(watcher)]
    assert users == [["Bob"], ["Ada", "Bob"], ["Bob"]]


async def test_refresh_renews_leases_and_reports_expired_people() -> None:
    clock = Clock()
    store = MemoryPresenceStore(clock)
    hub = RoomHub("nats://unused", presence=store, ttl_s=45)
    watcher = Outbox()
    await hub.enter("r", watcher, "u2", "Bob")
    await store.touch("r", PresenceEntry("dead", "u9", "Zed"), ttl_s=45)  # another process's
    await hub.refresh()
    clock.now += 50
    await hub.refresh()  # Bob renewed his lease; Zed's gateway died and his expired
    frames = _drain_outbox(watcher)
    assert [[u["name"] for u in f["users"]] for f in frames] == [["Bob"], ["Bob", "Zed"], ["Bob"]]


async def test_typing_on_the_multiplexed_socket_reaches_the_room_rate_limited() -> None:
    hub = RoomHub("nats://unused", presence=MemoryPresenceStore())
    socket = FakeSocket()
    session = MuxSession(socket, ADA, FakeChat(hub), hub)  # type: ignore[arg-type]
    bob = Outbox()
    await hub.enter("r1", bob, "u2", "Bob")
    _drain_outbox(bob)
    await session.handle(json.dumps({"op": "typing", "topic": "room:r1", "id": 1}))
    assert socket.sent[-1]["code"] == "not_subscribed"
    await session.handle(json.dumps({"op": "subscribe", "topic": "room:r1"}))
    await session.handle(json.dumps({"op": "typing", "topic": "room:r1"}))
    await session.handle(json.dumps({"op": "typing", "topic": "room:r1"}))  # too soon: dropped
    typing = [f for f in _drain_outbox(bob) if f["type"] == "typing"]
    assert typing == [typing_frame("r1", "u1", "Ada")]
    pump = asyncio.create_task(session.pump())
    await asyncio.sleep(0.05)
    pump.cancel()
    events = [m["data"]["type"] for m in socket.sent if m["op"] == "event"]
    assert events == ["presence", "typing"]  # ephemeral frames pass the seq dedupe
    await session.close()
    assert [f["users"] for f in _drain_outbox(bob)] == [[{"user_id": "u2", "name": "Bob"}]]


async def test_the_legacy_socket_passes_ephemeral_frames_between_sequenced_ones() -> None:
    hub = RoomHub("nats://unused")
    socket = FakeSocket()
    outbox = Outbox()
    hub.join("r1", outbox)
    hub.publish("r1", frame(1))
    hub.publish("r1", typing_frame("r1", "u2", "Bob"))
    hub.publish("r1", frame(1))  # a duplicate: dropped
    hub.publish("r1", presence_frame("r1", []))
    identity = InternalIdentity(user_id="u1", platform_role="student", resource_role="student")
    pump = asyncio.create_task(
        _pump(socket, outbox, FakeChat(hub), identity, "r1", None)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.05)
    pump.cancel()
    assert [m.get("seq", m["type"]) for m in socket.sent] == [1, "typing", "presence"]
