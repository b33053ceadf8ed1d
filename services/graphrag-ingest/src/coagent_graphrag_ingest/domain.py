"""Ingest jobs: pure types and rules (no I/O).

A job is one source (a message today; artifacts and documents later) that must be read into the
room's knowledge graph. ``source_event_id`` is the natural key that makes recording idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from coagent_kit.errors import Unprocessable

SourceKind = Literal["message", "artifact", "document"]
JobStatus = Literal["pending", "running", "succeeded", "failed"]
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
#: Width of the id columns; a longer id could not be stored, so it is refused up front.
MAX_ID_CHARS = 64


class InvalidIngestJob(Unprocessable):
    code = "invalid_ingest_job"


@dataclass(frozen=True)
class NewIngestJob:
    """A job before it is stored: what to ingest, for which room, because of which event."""

    room_id: str
    source_kind: SourceKind
    source_id: str
    source_event_id: str

    def __post_init__(self) -> None:
        for name in ("room_id", "source_id", "source_event_id"):
            value: str = getattr(self, name)
            if not value or len(value) > MAX_ID_CHARS:
                raise InvalidIngestJob(f"{name} must hold 1 to {MAX_ID_CHARS} characters")
        if self.source_kind not in SOURCE_KINDS:
            raise InvalidIngestJob(f"unknown source kind {self.source_kind!r}")


@dataclass(frozen=True)
class IngestJob:
    """A stored job; ``job_id`` is a UUIDv7, so ids sort by creation."""

    job_id: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    body: NewIngestJob


@dataclass(frozen=True, slots=True)
class RoomView:
    """One room of the gateway's, as of its event ``changed_at`` (the room projection)."""

    room_id: str
    course_id: str
    deleted: bool
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class RoomForgotten:
    """What deleting a room removed from ingest's own tables."""

    jobs: int = 0
    sources: int = 0
    extractions: int = 0
