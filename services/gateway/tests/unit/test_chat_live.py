"""Room fan-out: every listener of a room gets each frame; a slow socket is cut off, alone."""

from __future__ import annotations

import asyncio

from coagent_gateway.chat.frames import event_text, frame_text
from coagent_gateway.chat.live import Outbox, RoomHub


async def test_frames_reach_only_the_subscribers_of_their_room() -> None:
    hub = RoomHub("nats://unused")
    a1, a2, b = Outbox(), Outbox(), Outbox()
    hub.join("a", a1)
    hub.join("a", a2)
    hub.join("b", b)
    hub.publish("a", {"seq": 1})
    assert await a1.next() == ("room:a", {"seq": 1})
    assert await a2.next() == ("room:a", {"seq": 1})
    assert b.queue.empty()


async def test_one_socket_can_follow_several_rooms_through_one_outbox() -> None:
    hub = RoomHub("nats://unused")
    outbox = Outbox()
    hub.join("a", outbox)
    hub.join("b", outbox)
    hub.publish("b", {"seq": 7})
    hub.publish("a", {"seq": 3})
    assert [await outbox.next(), await outbox.next()] == [
        ("room:b", {"seq": 7}),
        ("room:a", {"seq": 3}),
    ]


async def test_a_slow_socket_overflows_without_blocking_the_others() -> None:
    hub = RoomHub("nats://unused")
    slow, fast = Outbox(limit=2), Outbox(limit=100)
    hub.join("a", slow)
    hub.join("a", fast)
    for seq in range(5):
        hub.publish("a", {"seq": seq})  # never awaits: a full queue cannot stall publish
        assert await fast.next() == ("room:a", {"seq": seq})
    assert slow.overflowed.is_set()
    assert await slow.next() is None


async def test_next_wakes_on_overflow_while_waiting() -> None:
    outbox = Outbox(limit=1)
    waiter = asyncio.create_task(outbox.next())
    await asyncio.sleep(0)
    outbox.overflowed.set()
    assert await asyncio.wait_for(waiter, 1) is None


async def test_leaving_forgets_the_subscription() -> None:
    hub = RoomHub("nats://unused")
    outbox = Outbox()
    listener = hub.join("a", outbox)
    hub.leave(listener)
    hub.publish("a", {"seq": 1})
    assert outbox.queue.empty()


async def test_a_cancelled_wait_does_not_swallow_the_next_frame() -> None:
    outbox = Outbox()
    waiter = asyncio.create_task(outbox.next())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.sleep(0)
    outbox.offer("room:a", {"seq": 1})
    assert await asyncio.wait_for(outbox.next(), 1) == ("room:a", {"seq": 1})


async def test_a_fanned_out_frame_is_encoded_once() -> None:
    hub = RoomHub("nats://unused")
    first, second = Outbox(), Outbox()
    hub.join("a", first)
    hub.join("a", second)
    hub.publish("a", {"seq": 1, "content": "hi"})
    one, two = await first.next(), await second.next()
    assert one is not None
    assert two is not None
    assert one[1] is two[1]  # the same object, so its cached JSON is shared
    assert frame_text(one[1]) == '{"seq":1,"content":"hi"}'
    assert event_text("room:a", one[1]) == (
        '{"op":"event","topic":"room:a","data":{"seq":1,"content":"hi"}}'
    )
