"""A member who loses access to a room loses its live frames, on every kind of socket."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from coagent_contracts.gateway import MembershipChangedData, MembershipChangedV1
from coagent_gateway.chat.endpoints import REVOKED_ACCESS, _pump
from coagent_gateway.chat.live import REVOKED, Outbox, RoomHub
from coagent_gateway.chat.multiplex import MuxSession
from coagent_gateway.chat.presence import MemoryPresenceStore
from coagent_gateway.domain import PlatformRole, User
from coagent_kit.auth import InternalIdentity

from .test_chat_multiplex import FakeChat, FakeSocket, frame

ADA = User("u1", "ada@example.org", "ada", PlatformRole.STUDENT, full_name="Ada")


async def _deny() -> bool:
    return False


async def _allow() -> bool:
    return True


def _removed(room_id: str, user_id: str) -> Any:
    event = MembershipChangedV1(
        producer="gateway",
        occurred_at=datetime.now(UTC),
        data=MembershipChangedData(room_id=room_id, user_id=user_id, change="removed"),
    )
    return SimpleNamespace(subject=event.subject, data=event.model_dump_json().encode())


async def test_only_the_removed_users_listeners_of_that_room_are_revoked() -> None:
    hub = RoomHub("nats://unused")
    gone, other_room, other_user = Outbox(), Outbox(), Outbox()
    target = hub.join("a", gone, "u1", "Ada", _deny)
    hub.join("b", other_room, "u1", "Ada", _deny)
    hub.join("a", other_user, "u2", "Bob", _deny)
    await hub.membership_removed("a", "u1")
    assert target.revoked
    assert await gone.next() == ("room:a", REVOKED)
    hub.publish("a", frame(1, "a"))
    assert gone.queue.empty()  # no longer routed
    assert other_room.revoked == []
    assert other_user.revoked == []
    assert not other_user.queue.empty()


async def test_a_listener_still_allowed_after_the_recheck_stays() -> None:
    hub = RoomHub("nats://unused")
    outbox = Outbox()
    listener = hub.join("a", outbox, "u1", "Ada", _allow)  # e.g. still a course member
    await hub.membership_removed("a", "u1")
    assert not listener.revoked
    assert outbox.revoked == []


async def test_a_failing_recheck_fails_closed() -> None:
    async def broken() -> bool:
        raise RuntimeError("database down")

    hub = RoomHub("nats://unused")
    listener = hub.join("a", Outbox(), "u1", "Ada", broken)
    await hub.membership_removed("a", "u1")
    assert listener.revoked


async def test_membership_events_drive_the_revocation() -> None:
    hub = RoomHub("nats://unused")
    outbox = Outbox()
    listener = hub.join("a", outbox, "u1", "Ada", _deny)
    await hub._on_membership(_removed("b", "u1"))  # another room
    await hub._on_membership(_removed("a", "u2"))  # another user
    await asyncio.sleep(0.01)
    assert not listener.revoked
    await hub._on_membership(_removed("a", "u1"))
    await asyncio.wait_for(outbox.next(), 1)
    assert listener.revoked
    await hub.stop()


async def test_revocation_jumps_the_queue_without_losing_frames() -> None:
    outbox = Outbox()
    outbox.offer("room:a", {"seq": 1})
    outbox.revoke("room:b")
    assert await outbox.next() == ("room:b", REVOKED)
    assert await outbox.next() == ("room:a", {"seq": 1})
    waiter = asyncio.create_task(outbox.next())
    await asyncio.sleep(0)
    outbox.revoke("room:c")  # wakes a waiting pump
    assert await asyncio.wait_for(waiter, 1) == ("room:c", REVOKED)
    outbox.offer("room:a", {"seq": 2})
    assert await asyncio.wait_for(outbox.next(), 1) == ("room:a", {"seq": 2})


async def test_the_legacy_socket_is_closed_with_4403() -> None:
    hub = RoomHub("nats://unused")
    socket, outbox = FakeSocket(), Outbox()
    hub.join("r1", outbox, "u1", "Ada", _deny)
    identity = InternalIdentity(user_id="u1", platform_role="student", resource_role="student")
    pump = asyncio.create_task(
        _pump(socket, outbox, FakeChat(hub), identity, "r1", None)  # type: ignore[arg-type]
    )
    await hub.membership_removed("r1", "u1")
    await asyncio.wait_for(pump, 1)
    assert socket.closed is not None
    assert socket.closed[0] == REVOKED_ACCESS == 4403
    assert socket.closed[1]


async def test_the_multiplexed_socket_drops_only_the_revoked_topic() -> None:
    hub = RoomHub("nats://unused", presence=MemoryPresenceStore())
    socket = FakeSocket()
    session = MuxSession(socket, ADA, FakeChat(hub), hub)  # type: ignore[arg-type]
    await session.handle(json.dumps({"op": "subscribe", "topic": "room:r1"}))
    await session.handle(json.dumps({"op": "subscribe", "topic": "room:r2"}))
    for listener in [x for room in ("r1", "r2") for x in hub._rooms[room]]:
        listener.check = _deny if listener.room_id == "r1" else _allow
    watcher = Outbox()
    hub.join("r1", watcher)
    pump = asyncio.create_task(session.pump())
    await hub.membership_removed("r1", "u1")
    await hub.membership_removed("r2", "u1")
    await asyncio.sleep(0.05)
    hub.publish("r1", frame(9, "r1"))
    hub.publish("r2", frame(9, "r2"))
    await asyncio.sleep(0.05)
    pump.cancel()
    assert {"op": "revoked", "topic": "room:r1"} in socket.sent
    sequenced = [(m["topic"], m["data"]["seq"]) for m in socket.sent if "seq" in m.get("data", {})]
    assert sequenced == [("room:r2", 9)]
    assert watcher.queue.get_nowait()[1]["users"] == []  # Ada left r1's presence
    assert socket.closed is None
