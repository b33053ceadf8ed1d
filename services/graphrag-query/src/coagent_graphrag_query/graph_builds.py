"""Graph builds as this service sees them: requested here, run by graphrag-ingest.

``POST /graph/{room}/build`` claims the room's build slot (single flight: while a build is
queued or running, asking again returns it), then publishes ``GraphBuildRequestedV1`` for
graphrag-ingest, the graph's sole writer. Its ``GraphBuildProgressV1`` events are folded into
the room's current build, ordered by ``(attempt, step)``: a late event never rewinds it, and a
build run again after its ingest process died (the next attempt, numbering steps from 1 again)
takes over from the earlier run. A running build announces itself at least every 30 s, so one
silent for ``STALE_AFTER_S`` is lost (no ingest process took it back up) and no longer blocks a
new one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from coagent_contracts.envelope import uuid7
from coagent_contracts.graphrag import (
    GraphBuildProgressV1,
    GraphBuildRequestedData,
    GraphBuildRequestedV1,
)
from coagent_kit.errors import ServiceError
from coagent_kit.logging import get_logger

log = get_logger(__name__)

BuildState = Literal["queued", "running", "succeeded", "failed"]
BUILDS_CONSUMER = "graphrag-query-graph-builds"
PRODUCER = "graphrag-query"
#: A queued or running build with no progress for this long is taken as lost. graphrag-ingest
#: re-announces a running build every 30 s and a dead process's build is redelivered after a
#: 30 s ack wait, so a live build is never this quiet (the margin covers relay and consumer lag).
STALE_AFTER_S = 180.0
STALE_ERROR = "the build stopped reporting progress"


class BuildRequestFailed(ServiceError):
    status, code = 503, "graph_build_unavailable"


@dataclass(frozen=True, slots=True)
class GraphBuild:
    room_id: str
    build_id: str
    status: BuildState
    stage: str
    step: int
    done: int
    total: int
    communities: int
    reports_written: int
    error: str | None
    requested_by: str | None
    requested_at: datetime
    updated_at: datetime
    #: The run of the build the latest progress came from (it is rerun after a crash).
    attempt: int = 1

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def progress(self) -> float:
        """0..1: done/total within the reports stage, by stage otherwise."""
        if self.status == "succeeded":
            return 1.0
        if self.stage == "reports" and self.total:
            return round(0.5 + 0.5 * self.done / self.total, 4)
        return {"queued": 0.0, "ingest": 0.1, "clustering": 0.4, "reports": 0.5}.get(
            self.stage, 0.0
        )

    def stale(self, now: datetime, after_s: float = STALE_AFTER_S) -> bool:
        return self.active and now - self.updated_at > timedelta(seconds=after_s)


def new_build(room_id: str, requested_by: str | None, now: datetime) -> GraphBuild:
    return GraphBuild(room_id, str(uuid7()), "queued", "queued", 0, 0, 0, 0, 0, None,
                      requested_by, now, now)  # fmt: skip


def advance(current: GraphBuild | None, event: GraphBuildProgressV1) -> GraphBuild | None:
    """``current`` after ``event``; None when the event is not news (another build, or not after
    the latest ``(attempt, step)``)."""
    d = event.data
    if current is None or current.build_id != d.build_id:
        return None
    if (d.attempt, d.step) <= (current.attempt, current.step):
        return None
    return replace(current, status=d.status, stage=d.stage, step=d.step, attempt=d.attempt,
                   done=d.done, total=d.total, communities=d.communities,
                   reports_written=d.reports_written, error=d.error,
                   updated_at=event.occurred_at)  # fmt: skip


def as_seen(build: GraphBuild, now: datetime, stale_after_s: float = STALE_AFTER_S) -> GraphBuild:
    """The build as clients should see it: a stale one has failed."""
    if build.stale(now, stale_after_s):
        return replace(build, status="failed", error=STALE_ERROR)
    return build


class GraphBuildStore(Protocol):
    """The current build of each room."""

    async def claim(self, build: GraphBuild, stale_after_s: float) -> GraphBuild:
        """Make ``build`` the room's current one unless an active, fresh build exists: the one
        that is current afterwards (``build`` itself when claimed)."""
        ...

    async def get(self, room_id: str) -> GraphBuild | None: ...

    async def apply(self, event: GraphBuildProgressV1) -> bool:
        """Fold a progress event into its room's build (see ``advance``); False if not news."""
        ...


Publish = Callable[[GraphBuildRequestedV1], Awaitable[None]]


class GraphBuilds:
    def __init__(
        self, store: GraphBuildStore, publish: Publish, stale_after_s: float = STALE_AFTER_S
    ) -> None:
        self._store, self._publish = store, publish
        self._stale_after_s = stale_after_s

    async def request(self, room_id: str, user_id: str | None) -> tuple[GraphBuild, bool]:
        """The room's running build, or a new one asked of graphrag-ingest; whether it is new."""
        now = datetime.now(UTC)
        wanted = new_build(room_id, user_id, now)
        current = await self._store.claim(wanted, self._stale_after_s)
        if current.build_id != wanted.build_id:
            return current, False
        command = GraphBuildRequestedV1(
            producer=PRODUCER,
            data=GraphBuildRequestedData(
                room_id=room_id, build_id=wanted.build_id, requested_by=user_id
            ),
        )
        try:
            await self._publish(command)
        except Exception as exc:
            log.warning("graph_build_request_failed", room_id=room_id, error=str(exc))
            failed = GraphBuildProgressV1.model_validate({
                "producer": PRODUCER,
                "data": {"room_id": room_id, "build_id": wanted.build_id, "step": 1,
                         "stage": "queued", "status": "failed",
                         "error": f"could not request the build: {exc}"},
            })  # fmt: skip
            await self._store.apply(failed)
            raise BuildRequestFailed("The graph build could not be requested; try again") from exc
        return wanted, True

    async def current(self, room_id: str) -> GraphBuild | None:
        build = await self._store.get(room_id)
        return None if build is None else as_seen(build, datetime.now(UTC), self._stale_after_s)

    async def record(self, event: GraphBuildProgressV1) -> bool:
        return await self._store.apply(event)
