"""HTTP shapes of the graphrag-ingest service's internal API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from coagent_graphrag_ingest.domain import IngestJob, JobStatus, SourceKind


class IngestJobRead(BaseModel):
    """One ingest job of a room."""

    job_id: str
    room_id: str
    source_kind: SourceKind
    source_id: str
    source_event_id: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, job: IngestJob) -> IngestJobRead:
        """The HTTP view of a stored job."""
        b = job.body
        return cls(
            job_id=job.job_id,
            room_id=b.room_id,
            source_kind=b.source_kind,
            source_id=b.source_id,
            source_event_id=b.source_event_id,
            status=job.status,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )
