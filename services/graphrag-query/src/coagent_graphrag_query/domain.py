"""Build status of a room's knowledge graph: pure types and the rule that folds job outcomes.

The status is a projection of ``IngestCompletedV1`` events. Counts add up over every job; the
"last job" fields follow the job that ended latest, so events delivered out of order cannot
make an older outcome look current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from coagent_kit.errors import NotFound

JobStatus = Literal["succeeded", "failed"]


class BuildStatusNotFound(NotFound):
    code = "build_status_not_found"


@dataclass(frozen=True)
class JobOutcome:
    """How one ingest job of a room ended, and what it added or updated."""

    room_id: str
    job_id: str
    status: JobStatus
    entities: int
    relations: int
    chunks: int
    error: str | None
    ended_at: datetime


@dataclass(frozen=True)
class BuildStatus:
    """Where the build of a room's graph stands after every job seen so far."""

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


def fold(current: BuildStatus | None, outcome: JobOutcome) -> BuildStatus:
    """The build status once ``outcome`` is taken into account (each outcome exactly once)."""
    succeeded = 1 if outcome.status == "succeeded" else 0
    if current is None:
        return BuildStatus(
            room_id=outcome.room_id,
            last_job_id=outcome.job_id,
            status=outcome.status,
            error=outcome.error,
            jobs_succeeded=succeeded,
            jobs_failed=1 - succeeded,
            entities=outcome.entities,
            relations=outcome.relations,
            chunks=outcome.chunks,
            updated_at=outcome.ended_at,
        )
    newest = outcome.ended_at >= current.updated_at
    return BuildStatus(
        room_id=current.room_id,
        last_job_id=outcome.job_id if newest else current.last_job_id,
        status=outcome.status if newest else current.status,
        error=outcome.error if newest else current.error,
        jobs_succeeded=current.jobs_succeeded + succeeded,
        jobs_failed=current.jobs_failed + 1 - succeeded,
        entities=current.entities + outcome.entities,
        relations=current.relations + outcome.relations,
        chunks=current.chunks + outcome.chunks,
        updated_at=outcome.ended_at if newest else current.updated_at,
    )
