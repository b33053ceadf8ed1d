"""Per-room single flight with debounce ``{quiet, max_wait}``.

A room is processed once it has been quiet for ``quiet`` seconds since its last event, but no
later than ``max_wait`` after the first event of the burst, so a busy room is never starved.
Each room has at most one driver task and one lock: a burst arriving while a pass runs leads to
exactly one more pass afterwards, and forgetting waits for (and blocks) passes of its room.
The state lives in this process: replicas must partition rooms between them (the JetStream
consumers deliver each event to one replica, so two replicas may both run the same room; the
delta ledger keeps that correct, only not minimal).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from coagent_kit.logging import get_logger

log = get_logger(__name__)

RoomRun = Callable[[str], Awaitable[object]]
#: Passes running at once across rooms, by default.
MAX_RUNNING = 4


@dataclass
class _Room:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    first: float | None = None
    last: float | None = None
    task: asyncio.Task[None] | None = None


class RoomScheduler:
    """Debounces pokes per room and runs ``run(room_id)`` one at a time per room."""

    def __init__(
        self, run: RoomRun, *, quiet: float, max_wait: float, max_running: int = MAX_RUNNING
    ) -> None:
        if quiet < 0 or max_wait < quiet:
            raise ValueError(f"need 0 <= quiet <= max_wait, got quiet={quiet} max={max_wait}")
        if max_running < 1:
            raise ValueError(f"need max_running >= 1, got {max_running}")
        self._run = run
        # Passes of different rooms share the process: unbounded (hundreds of rooms resumed at
        # start, a burst across rooms) they would starve the consumers of database connections
        # and CPU, and new events would wait behind them.
        self._running = asyncio.Semaphore(max_running)
        self._quiet = quiet
        self._max_wait = max_wait
        self._rooms: dict[str, _Room] = {}
        self._closed = False

    def poke(self, room_id: str) -> None:
        """Note an event for ``room_id``; a pass follows after the debounce."""
        if self._closed:
            return
        room = self._rooms.setdefault(room_id, _Room())
        now = time.monotonic()
        room.first = now if room.first is None else room.first
        room.last = now
        if room.task is None or room.task.done():
            room.task = asyncio.create_task(self._drive(room_id, room), name=f"ingest:{room_id}")

    @asynccontextmanager
    async def exclusive(self, room_id: str) -> AsyncIterator[None]:
        """Hold the room: no pass of it runs meanwhile (used to forget sources)."""
        room = self._rooms.setdefault(room_id, _Room())
        async with room.lock:
            yield

    def busy(self, room_id: str) -> bool:
        """Whether a pass of ``room_id`` is pending or running."""
        room = self._rooms.get(room_id)
        return room is not None and room.task is not None and not room.task.done()

    async def idle(self) -> None:
        """Wait until no room has a pending or running pass."""
        while tasks := [r.task for r in self._rooms.values() if r.task and not r.task.done()]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop every driver (pending passes are dropped; their events stay recorded)."""
        self._closed = True
        tasks = [r.task for r in self._rooms.values() if r.task and not r.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task

    async def _drive(self, room_id: str, room: _Room) -> None:
        while room.first is not None and room.last is not None:
            due = min(room.last + self._quiet, room.first + self._max_wait)
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue  # more events may have arrived: recompute the deadline
            room.first = room.last = None
            async with room.lock, self._running:
                try:
                    await self._run(room_id)
                except Exception:  # logged; the next event of the room retries it
                    log.exception("ingest_pass_failed", room_id=room_id)
