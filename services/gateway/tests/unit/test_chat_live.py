"""Room fan-out: every listener of a room gets each frame; a slow one is cut off, alone."""

from __future__ import annotations

import asyncio

from coagent_gateway.chat.live import Listener, RoomHub


async def test_frames_reach_only_the_listeners_of_their_room() -> None:
    hub = RoomHub("nats://unused")
    a1, a2, b = hub.join("a"), hub.join("a"), hub.join("b")
    hub.publish("a", {"seq": 1})
    assert await a1.next_frame() == {"seq": 1}
    assert await a2.next_frame() == {"seq": 1}
    assert b.queue.empty()


async def test_a_slow_listener_overflows_without_blocking_the_others() -> None:
    hub = RoomHub("nats://unused")
    slow = hub.join("a", limit=2)
    fast = hub.join("a", limit=100)
    for seq in range(5):
        hub.publish("a", {"seq": seq})  # never awaits: a full queue cannot stall publish
        assert await fast.next_frame() == {"seq": seq}
    assert slow.overflowed.is_set()
    assert await slow.next_frame() is None


async def test_next_frame_wakes_on_overflow_while_waiting() -> None:
    listener = Listener("a", limit=1)
    waiter = asyncio.create_task(listener.next_frame())
    await asyncio.sleep(0)
    listener.overflowed.set()
    assert await asyncio.wait_for(waiter, 1) is None


async def test_leaving_forgets_the_listener() -> None:
    hub = RoomHub("nats://unused")
    listener = hub.join("a")
    hub.leave(listener)
    hub.publish("a", {"seq": 1})
    assert listener.queue.empty()
