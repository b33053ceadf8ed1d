"""Explicit graph builds: ingest what is pending, refresh communities and reports, report progress.

A build runs while holding its room (no pass or forgetting of the room overlaps it). Every step
is announced as a ``GraphBuildProgressV1`` event through the outbox; ``step`` numbers them so
the projection in graphrag-query can ignore one delivered late. Report progress is throttled:
a room with hundreds of communities does not publish hundreds of events.
"""

from __future__ import annotations

import time

from coagent_contracts.graphrag import (
    GraphBuildProgressData,
    GraphBuildProgressV1,
    GraphBuildStage,
    GraphBuildStatus,
)
from coagent_graphrag_ingest.ports import UnitOfWorkFactory
from coagent_graphrag_ingest.service import PRODUCER

BUILDS_CONSUMER = "graphrag-ingest-builds"
#: Least time between two progress events of one stage (its first and last always go out).
PROGRESS_EVERY_S = 1.0
MAX_ERROR = 1000


class BuildProgress:
    """Publishes the progress events of one build, numbered in order."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, room_id: str, build_id: str) -> None:
        self._uow = unit_of_work
        self.room_id, self.build_id = room_id, build_id
        self._step = 0
        self._last: tuple[str, float] = ("", 0.0)
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
        self._step += 1
        self._last = (stage, time.monotonic())
        event = GraphBuildProgressV1(
            producer=PRODUCER,
            data=GraphBuildProgressData(
                room_id=self.room_id, build_id=self.build_id, step=self._step, stage=stage,
                status=status, done=done, total=total, communities=self.communities,
                reports_written=self.reports_written,
                error=error[:MAX_ERROR] if error else None,
            ),
        )  # fmt: skip
        async with self._uow() as uow:
            await uow.publish(event)
            await uow.commit()

    async def stage(self, stage: str, done: int, total: int) -> None:
        """The community builder's callback: throttled within a stage."""
        name: GraphBuildStage = "reports" if stage == "reports" else "clustering"
        if stage == "reports":
            self.reports_written = done
        last_stage, at = self._last
        edge = done in (0, total) or last_stage != name
        if edge or time.monotonic() - at >= PROGRESS_EVERY_S:
            await self.emit(name, done=done, total=total)
