"""Explicit graph builds: ingest what is pending, refresh communities and reports, report progress.

A build runs while holding its room (no pass or forgetting of the room overlaps it). Its command
stays unacknowledged while it runs: heartbeats keep the JetStream message in flight, and it is
acked once the build's end is announced. A process stopped on purpose cancels its builds while
still connected and hands each command back for another process to take within seconds; one
that dies mid-build stops the heartbeats, so the command is redelivered after one ack wait.
Either way the build runs again from the start, cheaply: ingest is delta-only, and every report
is stored as soon as it is written, so only reports not yet stored are written again. Every
step is announced as a ``GraphBuildProgressV1`` event through the outbox, numbered by
``(attempt, step)`` so the projection in graphrag-query ignores a late event but follows a
rerun. Report progress is throttled (hundreds of communities do not publish hundreds of
events), and a long stage is re-announced every ``ALIVE_EVERY_S`` so graphrag-query can tell a
live build from a lost one.
"""

from __future__ import annotations

import asyncio
import time

from coagent_contracts.graphrag import (
    GraphBuildProgressData,
    GraphBuildProgressV1,
    GraphBuildStage,
    GraphBuildStatus,
)
from coagent_graphrag_ingest.ports import UnitOfWorkFactory
from coagent_graphrag_ingest.service import PRODUCER
from coagent_kit.delivery import Delivery
from coagent_kit.logging import get_logger

log = get_logger(__name__)

BUILDS_CONSUMER = "graphrag-ingest-builds"
#: Default ack wait of the builds consumer (``GRAPHRAG_INGEST_BUILD_ACK_WAIT_S``): a dead
#: process's build is redelivered this long after its last heartbeat. Heartbeats go out three
#: times per ack wait.
BUILD_ACK_WAIT_S = 30.0
#: Deliveries of one build command: a build that takes its process down this often is given up
#: (graphrag-query's stale rule then shows it failed).
BUILD_MAX_DELIVER = 5
#: Least time between two progress events of one stage (its first and last always go out).
PROGRESS_EVERY_S = 1.0
#: A running build re-announces its stage at least this often, so graphrag-query sees it alive
#: through long stages (an ingest pass or a report waiting on a slow model).
ALIVE_EVERY_S = 30.0
#: A command the build could not even announce the end of is redelivered after this long.
RETRY_AFTER_S = 30.0
#: A stopping process hands its build commands back to be redelivered after this long. At once
#: would deliver them to this process's own pull requests, still open for up to a second, where
#: they would sit unhandled until the ack wait; this long, the process has stopped fetching and
#: another one takes them. Short against any ack wait.
STOPPING_HANDBACK_S = 2.0
MAX_ERROR = 1000


class BuildProgress:
    """Publishes the progress events of one build, numbered in order."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, room_id: str, build_id: str, attempt: int = 1
    ) -> None:
        self._uow = unit_of_work
        self.room_id, self.build_id, self.attempt = room_id, build_id, attempt
        self._step = 0
        self._last: tuple[str, float] = ("", 0.0)
        self._position: tuple[GraphBuildStage, int, int] = ("queued", 0, 0)
        # Heartbeats emit concurrently with the build: steps must go out in the order numbered.
        self._lock = asyncio.Lock()
        self.communities = 0
        self.reports_written = 0

    async def emit(
        self,
        stage: GraphBuildStage,
        status: GraphBuildStatus = "running",
        *,
        done: int = 0,
        total: int = 0,
        error: str | None = None,
    ) -> None:
        async with self._lock:
            self._step += 1
            self._last = (stage, time.monotonic())
            self._position = (stage, done, total)
            event = GraphBuildProgressV1(
                producer=PRODUCER,
                data=GraphBuildProgressData(
                    room_id=self.room_id, build_id=self.build_id, attempt=self.attempt,
                    step=self._step, stage=stage, status=status, done=done, total=total,
                    communities=self.communities, reports_written=self.reports_written,
                    error=error[:MAX_ERROR] if error else None,
                ),
            )  # fmt: skip
            async with self._uow() as uow:
                await uow.publish(event)
                await uow.commit()

    async def beat(self) -> None:
        """Re-announce where the build is when nothing went out for ``ALIVE_EVERY_S``."""
        stage, done, total = self._position
        if stage != "done" and time.monotonic() - self._last[1] >= ALIVE_EVERY_S:
            await self.emit(stage, done=done, total=total)

    async def stage(self, stage: str, done: int, total: int) -> None:
        """The community builder's callback: throttled within a stage."""
        name: GraphBuildStage = "reports" if stage == "reports" else "clustering"
        if stage == "reports":
            self.reports_written = done
        last_stage, at = self._last
        edge = done in (0, total) or last_stage != name
        if edge or time.monotonic() - at >= PROGRESS_EVERY_S:
            await self.emit(name, done=done, total=total)


class HeldCommand:
    """The delivery of a build command while its build runs: kept in flight, acked at the end."""

    def __init__(self, delivery: Delivery, ack_wait_s: float) -> None:
        self.delivery = delivery
        self.attempt = delivery.attempt
        self._every_s = ack_wait_s / 3

    def adopt(self, delivery: Delivery) -> None:
        """A redelivery of the running build (its heartbeats were late): keep that one alive."""
        self.delivery = delivery

    async def keep_alive(self, progress: BuildProgress) -> None:
        """Heartbeat the delivery and re-announce the build's stage until cancelled."""
        while True:
            await asyncio.sleep(self._every_s)
            try:
                await self.delivery.in_progress()
                await progress.beat()
            except Exception as exc:  # the next beat tries again; redelivery covers a long gap
                log.warning("graph_build_heartbeat_failed", build_id=progress.build_id,
                            error=f"{type(exc).__name__}: {exc}")  # fmt: skip

    async def settle(self, ended: bool) -> None:
        """Ack once the build's end is announced; otherwise have it redelivered later."""
        try:
            await (self.delivery.ack() if ended else self.delivery.nack(RETRY_AFTER_S))
        except Exception as exc:  # unacked, it comes back and is acked as already ended
            log.warning("graph_build_unsettled", error=f"{type(exc).__name__}: {exc}")

    async def release(self, delay: float = STOPPING_HANDBACK_S) -> None:
        """The process is stopping: hand the command back for another process."""
        try:
            await asyncio.wait_for(self.delivery.nack(delay), 2.0)
        except Exception as exc:  # not handed back: it comes back after the ack wait instead
            log.warning("graph_build_not_handed_back", error=f"{type(exc).__name__}: {exc}")
