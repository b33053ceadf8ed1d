"""HTTP shapes of the graphrag-query service's internal API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from coagent_graphrag_query.domain import BuildStatus, JobStatus


class BuildStatusRead(BaseModel):
    """Where the build of a room's knowledge graph stands."""

    room_id: str
    last_job_id: str
    status: JobStatus
    error: str | None
    jobs_succeeded: int
    jobs_failed: int
    entities: int
    relations: int
    chunks: int
    updated_at: datetime

    @classmethod
    def of(cls, status: BuildStatus) -> BuildStatusRead:
        """The HTTP view of a room's build status."""
        return cls(
            room_id=status.room_id,
            last_job_id=status.last_job_id,
            status=status.status,
            error=status.error,
            jobs_succeeded=status.jobs_succeeded,
            jobs_failed=status.jobs_failed,
            entities=status.entities,
            relations=status.relations,
            chunks=status.chunks,
            updated_at=status.updated_at,
        )
