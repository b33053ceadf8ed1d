"""Due messages run in parallel across timer slots and one after another within a slot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from coagent_trigger.schedule_consumer import SlotGate, slot_of
from coagent_trigger.schedules import DueKind, DueMessage

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def due(kind: DueKind, policy_id: str = "p1", room_id: str | None = None) -> DueMessage:
    return DueMessage(kind=kind, policy_id=policy_id, room_id=room_id, at=AT)


def test_a_slot_is_the_policys_clock_or_one_of_its_rooms() -> None:
    assert slot_of(due("timer")) == slot_of(due("cron")) == "p1:clock"
    assert slot_of(due("silence", room_id="r1")) != slot_of(due("silence", room_id="r2"))
    assert slot_of(due("silence", room_id="r1")) != slot_of(due("debounce", room_id="r1"))
    assert slot_of(due("timer")) != slot_of(due("timer", policy_id="p2"))


async def test_one_slot_goes_in_arrival_order_other_slots_in_parallel() -> None:
    gate = SlotGate()
    log: list[str] = []
    release = asyncio.Event()

    async def work(slot: str, name: str) -> None:
        async with gate.hold(slot):
            log.append(f"start {name}")
            await release.wait()
            log.append(f"end {name}")

    tasks = [
        asyncio.create_task(work(slot, name))
        for slot, name in (("a", "a1"), ("b", "b1"), ("a", "a2"), ("a", "a3"))
    ]
    await asyncio.sleep(0.01)
    assert log == ["start a1", "start b1"], "a2 and a3 wait for a1; b1 does not"
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)

    a_only = [entry for entry in log if " a" in entry]
    assert a_only == ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]
    assert len(gate) == 0, "idle slots are forgotten"


async def test_a_failing_holder_lets_the_next_one_through() -> None:
    gate = SlotGate()

    async def fail() -> None:
        async with gate.hold("a"):
            raise RuntimeError("boom")

    failing = asyncio.create_task(fail())
    entered = asyncio.Event()

    async def enter() -> None:
        async with gate.hold("a"):
            entered.set()

    waiting = asyncio.create_task(enter())
    results = await asyncio.gather(failing, waiting, return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert entered.is_set()
    assert len(gate) == 0
