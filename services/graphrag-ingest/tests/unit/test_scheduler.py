"""Per-room single flight with debounce {quiet, max_wait}."""

from __future__ import annotations

import asyncio
import time

import pytest

from coagent_graphrag_ingest.scheduler import RoomScheduler


class Recorder:
    def __init__(self, work_s: float = 0.0) -> None:
        self.runs: list[tuple[str, float]] = []
        self.running: set[str] = set()
        self.overlaps = 0
        self._work_s = work_s

    async def __call__(self, room_id: str) -> None:
        if room_id in self.running:
            self.overlaps += 1
        self.running.add(room_id)
        self.runs.append((room_id, time.monotonic()))
        await asyncio.sleep(self._work_s)
        self.running.discard(room_id)


async def test_a_burst_of_events_is_processed_in_one_pass() -> None:
    run = Recorder()
    scheduler = RoomScheduler(run, quiet=0.2, max_wait=10.0)

    for _ in range(5):
        scheduler.poke("r1")
        await asyncio.sleep(0.02)
    assert run.runs == []  # still inside the quiet window
    await scheduler.idle()

    assert [room for room, _ in run.runs] == ["r1"]


async def test_a_busy_room_is_processed_by_max_wait_not_starved() -> None:
    run = Recorder()
    scheduler = RoomScheduler(run, quiet=0.3, max_wait=0.5)
    start = time.monotonic()

    while not run.runs and time.monotonic() - start < 10:
        scheduler.poke("r1")  # never quiet for 0.3 s
        await asyncio.sleep(0.05)
    await scheduler.close()

    assert run.runs, "the room was starved"
    assert run.runs[0][1] - start < 5.0  # bounded by max_wait (generous for a loaded machine)


async def test_events_during_a_pass_cause_exactly_one_more_pass_never_an_overlap() -> None:
    run = Recorder(work_s=0.3)
    scheduler = RoomScheduler(run, quiet=0.0, max_wait=0.0)

    scheduler.poke("r1")
    await asyncio.sleep(0.1)  # the first pass is running
    for _ in range(3):
        scheduler.poke("r1")
    await scheduler.idle()

    assert len(run.runs) == 2
    assert run.overlaps == 0


async def test_rooms_are_independent_and_exclusive_holds_a_room() -> None:
    run = Recorder()
    scheduler = RoomScheduler(run, quiet=0.05, max_wait=1.0)

    async with scheduler.exclusive("r1"):
        scheduler.poke("r1")
        scheduler.poke("r2")
        await asyncio.sleep(0.3)
        assert [room for room, _ in run.runs] == ["r2"]  # r1 waits for the lock
    await scheduler.idle()

    assert sorted(room for room, _ in run.runs) == ["r1", "r2"]


async def test_a_failing_pass_does_not_kill_the_room() -> None:
    calls: list[str] = []

    async def flaky(room_id: str) -> None:
        calls.append(room_id)
        if len(calls) == 1:
            raise RuntimeError("store down")

    scheduler = RoomScheduler(flaky, quiet=0.0, max_wait=0.0)
    scheduler.poke("r1")
    await scheduler.idle()
    scheduler.poke("r1")
    await scheduler.idle()

    assert calls == ["r1", "r1"]


def test_inconsistent_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="quiet"):
        RoomScheduler(Recorder(), quiet=5.0, max_wait=1.0)


async def test_passes_across_rooms_run_at_most_max_running_at_once() -> None:
    running, peak, done = 0, 0, []

    async def run(room_id: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        done.append(room_id)

    scheduler = RoomScheduler(run, quiet=0.0, max_wait=0.0, max_running=2)
    for i in range(8):
        scheduler.poke(f"room-{i}")
    await asyncio.wait_for(scheduler.idle(), 5)
    assert sorted(done) == sorted(f"room-{i}" for i in range(8))
    assert peak == 2
    with pytest.raises(ValueError, match="max_running"):
        RoomScheduler(run, quiet=0.0, max_wait=0.0, max_running=0)
