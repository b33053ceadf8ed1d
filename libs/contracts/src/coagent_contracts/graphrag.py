"""GraphRAG context: knowledge-graph ingest jobs and graph builds.

Ingest turns chat events into jobs keyed by room, so a room's graph can be rebuilt or followed
independently; ``IngestCompletedV1`` reports each job's outcome to the build-status views.
A build (ingest, communities and their reports) is asked for by graphrag-query with
``GraphBuildRequestedV1`` (a command only graphrag-ingest, the graph's sole writer, consumes) and
reported by graphrag-ingest with ``GraphBuildProgressV1`` events.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field, TypeAdapter, model_validator

from coagent_contracts.envelope import Event, EventData, tagged_union
from coagent_contracts.subjects import SubjectToken, join_subject

__all__ = [
    "GRAPHRAG_EVENTS",
    "GRAPHRAG_EVENT_TYPES",
    "GraphBuildProgressData",
    "GraphBuildProgressV1",
    "GraphBuildRequestedData",
    "GraphBuildRequestedV1",
    "GraphBuildStage",
    "GraphBuildStatus",
    "GraphragEvent",
    "IngestCompletedData",
    "IngestCompletedV1",
    "IngestRequestedData",
    "IngestRequestedV1",
    "IngestSourceKind",
    "IngestStatus",
    "graph_build_progress_subject",
    "graph_build_requested_subject",
    "ingest_completed_subject",
    "ingest_requested_subject",
]

IngestSourceKind = Literal["message", "artifact", "document"]
"""What an ingest job reads."""

IngestStatus = Literal["succeeded", "failed"]
"""Outcome of an ingest job."""


def ingest_requested_subject(room_id: str) -> str:
    """``graphrag.room.<room_id>.ingest.requested.v1``."""
    return join_subject("graphrag", "room", room_id, "ingest", "requested", "v1")


def ingest_completed_subject(room_id: str) -> str:
    """``graphrag.room.<room_id>.ingest.completed.v1``."""
    return join_subject("graphrag", "room", room_id, "ingest", "completed", "v1")


class IngestRequestedData(EventData):
    """A source must be (re-)ingested into the room's knowledge graph."""

    room_id: SubjectToken
    job_id: str = Field(min_length=1)
    source_kind: IngestSourceKind
    source_id: str = Field(min_length=1)
    source_event_id: str = Field(min_length=1)
    """The chat event that caused the job; ingest is idempotent on it."""


class IngestRequestedV1(Event):
    """An ingest job was requested (``graphrag.room.<room_id>.ingest.requested.v1``)."""

    FILTER: ClassVar[str] = "graphrag.room.*.ingest.requested.v1"

    type: Literal["graphrag.ingest.requested"] = "graphrag.ingest.requested"
    version: Literal[1] = 1
    data: IngestRequestedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return ingest_requested_subject(self.data.room_id)


class IngestCompletedData(EventData):
    """An ingest job ended; counts are what the job added or updated."""

    room_id: SubjectToken
    job_id: str = Field(min_length=1)
    status: IngestStatus
    entities: int = Field(default=0, ge=0)
    relations: int = Field(default=0, ge=0)
    chunks: int = Field(default=0, ge=0)
    error: str | None = None
    """Why the job failed; required when ``status`` is ``"failed"``."""

    @model_validator(mode="after")
    def _failure_has_error(self) -> Self:
        # Build-status views show the error of failed jobs; a failure without one is undiagnosable.
        if self.status == "failed" and not self.error:
            raise ValueError("a failed ingest job needs an error")
        return self


class IngestCompletedV1(Event):
    """An ingest job ended (``graphrag.room.<room_id>.ingest.completed.v1``)."""

    FILTER: ClassVar[str] = "graphrag.room.*.ingest.completed.v1"

    type: Literal["graphrag.ingest.completed"] = "graphrag.ingest.completed"
    version: Literal[1] = 1
    data: IngestCompletedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return ingest_completed_subject(self.data.room_id)


GraphBuildStage = Literal["queued", "ingest", "clustering", "reports", "done"]
"""Where a build is: waiting, ingesting sources, clustering, writing reports, finished."""

GraphBuildStatus = Literal["running", "succeeded", "failed"]
"""A build's state; the last two are terminal."""


def graph_build_requested_subject(room_id: str) -> str:
    """``graphrag.room.<room_id>.build.requested.v1``."""
    return join_subject("graphrag", "room", room_id, "build", "requested", "v1")


def graph_build_progress_subject(room_id: str) -> str:
    """``graphrag.room.<room_id>.build.progressed.v1``."""
    return join_subject("graphrag", "room", room_id, "build", "progressed", "v1")


class GraphBuildRequestedData(EventData):
    """Build the room's graph now: ingest what is pending, re-cluster, refresh stale reports."""

    room_id: SubjectToken
    build_id: str = Field(min_length=1, max_length=64)
    requested_by: str | None = None
    """The user who asked, when known."""


class GraphBuildRequestedV1(Event):
    """A command to graphrag-ingest (``graphrag.room.<room_id>.build.requested.v1``)."""

    FILTER: ClassVar[str] = "graphrag.room.*.build.requested.v1"

    type: Literal["graphrag.build.requested"] = "graphrag.build.requested"
    version: Literal[1] = 1
    data: GraphBuildRequestedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return graph_build_requested_subject(self.data.room_id)


class GraphBuildProgressData(EventData):
    """How far a build got; ``(attempt, step)`` grows with each event of a build (orders them)."""

    room_id: SubjectToken
    build_id: str = Field(min_length=1, max_length=64)
    attempt: int = Field(default=1, ge=1)
    """Which delivery of the build command this run is: a build whose process stopped is run
    again from the start with the next attempt, and its events order after the earlier run's."""
    step: int = Field(ge=0)
    """Counts the events of one attempt from 1."""
    stage: GraphBuildStage
    status: GraphBuildStatus
    done: int = Field(default=0, ge=0)
    """Units of the stage done (reports written while ``stage`` is ``"reports"``)."""
    total: int = Field(default=0, ge=0)
    communities: int = Field(default=0, ge=0)
    reports_written: int = Field(default=0, ge=0)
    error: str | None = None
    """Why the build failed; required when ``status`` is ``"failed"``."""

    @model_validator(mode="after")
    def _failure_has_error(self) -> Self:
        if self.status == "failed" and not self.error:
            raise ValueError("a failed build needs an error")
        return self


class GraphBuildProgressV1(Event):
    """A build advanced or ended (``graphrag.room.<room_id>.build.progressed.v1``)."""

    FILTER: ClassVar[str] = "graphrag.room.*.build.progressed.v1"

    type: Literal["graphrag.build.progressed"] = "graphrag.build.progressed"
    version: Literal[1] = 1
    data: GraphBuildProgressData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return graph_build_progress_subject(self.data.room_id)


GraphragEvent = IngestRequestedV1 | IngestCompletedV1 | GraphBuildRequestedV1 | GraphBuildProgressV1
"""Static type of any graphrag event."""

GRAPHRAG_EVENT_TYPES: tuple[type[Event], ...] = (
    IngestRequestedV1,
    IngestCompletedV1,
    GraphBuildRequestedV1,
    GraphBuildProgressV1,
)
"""Every graphrag event class, in declaration order."""

GRAPHRAG_EVENTS: TypeAdapter[GraphragEvent] = TypeAdapter(tagged_union(*GRAPHRAG_EVENT_TYPES))
"""Validates any graphrag event, discriminating on ``type`` and ``version``."""
