"""The multiplexed socket's protocol: subscribe with resume, ordering across replay, errors."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from coagent_gateway.chat.live import RoomHub
from coagent_gateway.chat.multiplex import MAX_SUBSCRIPTIONS, MuxSession
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.policy import Action
from coagent_kit.auth import InternalIdentity
from coagent_kit.errors import Forbidden

USER = User("u1", "ada@example.org", "ada", PlatformRole.STUDENT, full_name="Ada")


def frame(seq: int, room: str = "r1") -> dict[str, Any]:
    return {"type": "message", "seq": seq, "room_id": room, "content": f"m{seq}"}


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def events(self, topic: str) -> list[int]:
        return [m["data"]["seq"] for m in self.sent if m["op"] == "event" and m["topic"] == topic]


class FakeChat:
    """History of r1 is seq 1..5; r-secret refuses; a hub publish happens during the replay."""

    def __init__(self, hub: RoomHub) -> None:
        self.hub = hub
        self.posted: list[str] = []
        self.keys: list[str | None] = []

    async def authorize(self, user: User, room_id: str, action: Action) -> InternalIdentity:
        if room_id == "r-secret":
            raise Forbidden("Not a member", code="forbidden")
        return InternalIdentity(user_id=user.id, platform_role="student", resource_role="student")

    async def history(
        self, identity: InternalIdentity, room_id: str, since: int, limit: int
    ) -> list[dict[str, Any]]:
        # A live frame overlapping the replay arrives while history is being fetched.
        self.hub.publish(room_id, frame(5))
        self.hub.publish(room_id, frame(6))
        return [frame(s) for s in range(since + 1, 6)]

    async def post(
        self,
        identity: InternalIdentity,
        user: User,
        room_id: str,
        content: str,
        client_msg_id: str | None = None,
    ) -> dict[str, Any]:
        self.posted.append(content)
        self.keys.append(client_msg_id)
        return {**frame(7), "id": "m7"}


@pytest.fixture
def setup() -> tuple[MuxSession, FakeSocket, RoomHub]:
    hub = RoomHub("nats://unused")
    socket = FakeSocket()
    session = MuxSession(socket, USER, FakeChat(hub), hub)  # type: ignore[arg-type]
    return session, socket, hub


async def _drain(session: MuxSession) -> None:
    pump = asyncio.create_task(session.pump())
    await asyncio.sleep(0.05)
    pump.cancel()


async def test_resume_replays_then_goes_live_in_order_without_duplicates(
    setup: tuple[MuxSession, FakeSocket, RoomHub],
) -> None:
    session, socket, hub = setup
    await session.handle(json.dumps({"op": "subscribe", "topic": "room:r1", "since": 2, "id": 1}))
    await _drain(session)
    hub.publish("r1", frame(7))
    await _drain(session)
    assert socket.sent[0] == {"op": "subscribed", "topic": "room:r1", "id": 1}
    assert socket.events("room:r1") == [3, 4, 5, 6, 7]


async def test_refused_rooms_and_bad_frames_get_error_frames(
    setup: tuple[MuxSession, FakeSocket, RoomHub],
) -> None:
    session, socket, _ = setup
    await session.handle(json.dumps({"op": "subscribe", "topic": "room:r-secret", "id": "a"}))
    await session.handle("not json")
    await session.handle(json.dumps({"op": "subscribe", "topic": "thread:9", "id": "b"}))
    await session.handle(json.dumps({"op": "dance", "id": "c"}))
    codes = [(m["id"], m["code"]) for m in socket.sent if m["op"] == "error"]
    assert codes == [
        ("a", "forbidden"),
        (None, "bad_request"),
        ("b", "unsupported_topic"),
        ("c", "unknown_op"),
    ]


async def test_post_and_ping(setup: tuple[MuxSession, FakeSocket, RoomHub]) -> None:
    session, socket, _ = setup
    await session.handle(json.dumps({"op": "post", "topic": "room:r1", "content": "hi", "id": 5}))
    await session.handle(json.dumps({"op": "ping", "id": 6}))
    assert socket.sent == [
        {
            "op": "posted",
            "topic": "room:r1",
            "seq": 7,
            "message_id": "m7",
            "client_msg_id": None,
            "id": 5,
        },
        {"op": "pong", "id": 6},
    ]


async def test_post_passes_the_client_msg_id_through(
    setup: tuple[MuxSession, FakeSocket, RoomHub],
) -> None:
    session, socket, _ = setup
    chat = session._chat
    assert isinstance(chat, FakeChat)
    post = {"op": "post", "topic": "room:r1", "content": "hi", "client_msg_id": "k-1", "id": 1}
    await session.handle(json.dumps(post))
    assert chat.keys == ["k-1"]
    assert socket.sent[-1]["op"] == "posted"
    assert socket.sent[-1]["client_msg_id"] == "k-1"


@pytest.mark.parametrize("key", ["", 7, "with space", "x" * 129, "caf\u00e9"])
async def test_malformed_client_msg_ids_are_refused_before_posting(
    setup: tuple[MuxSession, FakeSocket, RoomHub], key: object
) -> None:
    session, socket, _ = setup
    chat = session._chat
    assert isinstance(chat, FakeChat)
    post = {"op": "post", "topic": "room:r1", "content": "hi", "client_msg_id": key, "id": 2}
    await session.handle(json.dumps(post))
    assert chat.posted == []
    assert socket.sent == [
        {
            "op": "error",
            "code": "bad_request",
            "detail": "client_msg_id must be 1-128 printable ASCII chars",
            "id": 2,
        }
    ]


async def test_unsubscribed_topics_stop_receiving(
    setup: tuple[MuxSession, FakeSocket, RoomHub],
) -> None:
    session, socket, hub = setup
    await session.handle(json.dumps({"op": "subscribe", "topic": "room:r2"}))
    await session.handle(json.dumps({"op": "unsubscribe", "topic": "room:r2"}))
    hub.publish("r2", frame(1, "r2"))
    await _drain(session)
    assert socket.events("room:r2") == []


async def test_subscriptions_are_bounded(setup: tuple[MuxSession, FakeSocket, RoomHub]) -> None:
    session, socket, _ = setup
    for i in range(MAX_SUBSCRIPTIONS + 1):
        await session.handle(json.dumps({"op": "subscribe", "topic": f"room:x{i}"}))
    assert socket.sent[-1]["code"] == "too_many_subscriptions"


async def test_an_overflowing_socket_is_closed_with_a_reason(
    setup: tuple[MuxSession, FakeSocket, RoomHub],
) -> None:
    session, socket, hub = setup
    await session.handle(json.dumps({"op": "subscribe", "topic": "room:r3"}))
    for seq in range(1, 400):
        hub.publish("r3", frame(seq, "r3"))
    await asyncio.wait_for(session.pump(), 2)
    assert socket.closed is not None
    assert socket.closed[0] == 4008
    assert datetime.now(UTC)  # the close happened without waiting on the slow socket
