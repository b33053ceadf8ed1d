"""In-memory implementations of every graphrag-ingest port (unit tests, local experiments)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from coagent_contracts.envelope import Event, uuid7
from coagent_graphrag_ingest.domain import IngestJob, NewIngestJob


class MemoryStore:
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        self.jobs: list[IngestJob] = []
        self.published: list[Event] = []


class MemoryIngestJobRepository:
    """Stages new jobs; the unit of work merges them on commit."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: list[IngestJob] = []

    async def add(self, job: NewIngestJob) -> IngestJob | None:
        # Mirrors the unique constraint on source_event_id of the real table.
        if any(j.body.source_event_id == job.source_event_id for j in self._visible()):
            return None
        now = datetime.now(UTC)
        stored = IngestJob(str(uuid7()), "pending", now, now, job)
        self.staged.append(stored)
        return stored

    async def list_for_room(self, room_id: str, limit: int) -> list[IngestJob]:
        room = [j for j in self._store.jobs if j.body.room_id == room_id]
        return sorted(room, key=lambda j: (j.created_at, j.job_id), reverse=True)[:limit]

    def _visible(self) -> list[IngestJob]:
        return [*self._store.jobs, *self.staged]


class MemoryUnitOfWork:
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        self.jobs = MemoryIngestJobRepository(self._store)
        self._events: list[Event] = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def publish(self, event: Event) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        self._store.jobs.extend(self.jobs.staged)
        self._store.published.extend(self._events)
        self.jobs.staged = []
        self._events = []
