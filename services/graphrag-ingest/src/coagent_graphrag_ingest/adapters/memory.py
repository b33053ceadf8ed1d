"""In-memory implementations of every graphrag-ingest port (unit tests, local experiments)."""

from __future__ import annotations

from datetime import UTC, datetime

from coagent_contracts.envelope import uuid7
from coagent_graphrag_ingest.domain import IngestJob, NewIngestJob, SourceKind
from coagent_kit.unit_of_work import MemoryEventLog
from coagent_kit.unit_of_work import MemoryUnitOfWork as KitMemoryUnitOfWork


class MemoryStore(MemoryEventLog):
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[IngestJob] = []


class MemoryIngestJobRepository:
    """Stages new jobs; the unit of work merges them on commit."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: list[IngestJob] = []
        self.forgotten: set[str] = set()

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

    async def forget_sources(
        self, room_id: str, source_kind: SourceKind, source_ids: tuple[str, ...]
    ) -> int:
        doomed = {
            j.job_id
            for j in self._visible()
            if j.body.room_id == room_id
            and j.body.source_kind == source_kind
            and j.body.source_id in source_ids
        }
        self.forgotten |= doomed
        return len(doomed)

    def _visible(self) -> list[IngestJob]:
        return [*self._store.jobs, *self.staged]


class MemoryUnitOfWork(KitMemoryUnitOfWork):
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self._store = store

    def begin(self) -> None:
        self.jobs = MemoryIngestJobRepository(self._store)

    def apply(self) -> None:
        self._store.jobs.extend(self.jobs.staged)
        self._store.jobs[:] = [j for j in self._store.jobs if j.job_id not in self.jobs.forgotten]
