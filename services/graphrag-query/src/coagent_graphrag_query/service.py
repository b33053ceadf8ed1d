"""Query use cases: the build status of a room's knowledge graph."""

from __future__ import annotations

from coagent_contracts.graphrag import IngestCompletedV1
from coagent_graphrag_query.domain import BuildStatus, BuildStatusNotFound, JobOutcome
from coagent_graphrag_query.ports import BuildStatusStore

BUILD_STATUS_CONSUMER = "graphrag-query-build-status"


def job_outcome(event: IngestCompletedV1) -> JobOutcome:
    """The outcome an ``IngestCompletedV1`` event reports."""
    data = event.data
    return JobOutcome(
        room_id=data.room_id,
        job_id=data.job_id,
        status=data.status,
        entities=data.entities,
        relations=data.relations,
        chunks=data.chunks,
        error=data.error,
        ended_at=event.occurred_at,
    )


class QueryService:
    """Read-only views over what graphrag-ingest built."""

    def __init__(self, build_status: BuildStatusStore) -> None:
        self._build_status = build_status

    async def record_ingest_completed(self, event: IngestCompletedV1) -> bool:
        """Fold a finished job into its room's status; False for a redelivered event."""
        return await self._build_status.apply(event.event_id, job_outcome(event))

    async def build_status(self, room_id: str) -> BuildStatus:
        """The room's build status; ``BuildStatusNotFound`` before its first job ended."""
        status = await self._build_status.get(room_id)
        if status is None:
            raise BuildStatusNotFound(f"No knowledge-graph build has ended yet in room {room_id}")
        return status
