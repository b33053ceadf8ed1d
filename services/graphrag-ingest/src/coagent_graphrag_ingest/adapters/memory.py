"""In-memory implementations of every graphrag-ingest port (unit tests, local experiments)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from coagent_contracts.envelope import uuid7
from coagent_graphrag_ingest.chunking import SourceRecord
from coagent_graphrag_ingest.domain import (
    IngestJob,
    JobStatus,
    NewIngestJob,
    RoomForgotten,
    RoomView,
    SourceKind,
)
from coagent_kit.unit_of_work import MemoryEventLog
from coagent_kit.unit_of_work import MemoryUnitOfWork as KitMemoryUnitOfWork


class MemoryStore(MemoryEventLog):
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[IngestJob] = []
        self.sources: dict[tuple[str, str], SourceRecord] = {}
        #: (room, message id) of erased messages
        self.erased: set[tuple[str, str]] = set()
        #: (room, delta key) -> chunk id
        self.extractions: dict[tuple[str, str], str] = {}
        self.rooms: dict[str, RoomView] = {}


class MemoryIngestJobRepository:
    """Stages new jobs; the unit of work merges them on commit."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: list[IngestJob] = []
        self.forgotten: set[str] = set()

    async def add(self, job: NewIngestJob) -> IngestJob | None:
        # Mirrors the unique constraint on source_event_id of the real table.
        if any(j.body.source_event_id == job.source_event_id for j in self.visible()):
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
            for j in self.visible()
            if j.body.room_id == room_id
            and j.body.source_kind == source_kind
            and j.body.source_id in source_ids
        }
        self.forgotten |= doomed
        return len(doomed)

    async def pending_rooms(self, limit: int) -> list[str]:
        pending = sorted((j.created_at, j.body.room_id) for j in self._store.jobs
                         if j.status == "pending")  # fmt: skip
        return list(dict.fromkeys(room for _, room in pending))[:limit]

    async def pending_ids(self, room_id: str) -> list[str]:
        return sorted(
            j.job_id
            for j in self._store.jobs
            if j.body.room_id == room_id and j.status == "pending"
        )

    async def finish(
        self, room_id: str, job_ids: Sequence[str], status: JobStatus
    ) -> list[IngestJob]:
        wanted = set(job_ids)
        done: list[IngestJob] = []
        for index, job in enumerate(self._store.jobs):
            if job.job_id in wanted and job.body.room_id == room_id and job.status == "pending":
                job = replace(job, status=status, updated_at=datetime.now(UTC))
                self._store.jobs[index] = job
                done.append(job)
        return sorted(done, key=lambda j: j.job_id)

    def visible(self) -> list[IngestJob]:
        return [*self._store.jobs, *self.staged]


class MemorySourceRepository:
    """Writes straight into the shared store (tests never roll source writes back)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def put(self, room_id: str, source: SourceRecord) -> None:
        self._store.sources[(room_id, source.source_id)] = source

    async def for_room(self, room_id: str) -> list[SourceRecord]:
        return [s for (room, _), s in self._store.sources.items() if room == room_id]

    async def forget(self, room_id: str, source_ids: Sequence[str]) -> int:
        doomed = [(room_id, i) for i in source_ids if (room_id, i) in self._store.sources]
        for key in doomed:
            del self._store.sources[key]
        return len(doomed)

    async def remember_erased(self, room_id: str, message_ids: Sequence[str]) -> None:
        self._store.erased.update((room_id, i) for i in message_ids)

    async def was_erased(self, room_id: str, message_id: str) -> bool:
        return (room_id, message_id) in self._store.erased


class MemoryExtractionLedger:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def known(self, room_id: str, keys: Sequence[str]) -> set[str]:
        return {k for k in keys if (room_id, k) in self._store.extractions}

    async def record(self, room_id: str, entries: Sequence[tuple[str, str]]) -> None:
        for key, chunk in entries:
            self._store.extractions[(room_id, key)] = chunk

    async def chunk_ids(self, room_id: str) -> set[str]:
        return {c for (room, _), c in self._store.extractions.items() if room == room_id}

    async def forget_chunks(self, room_id: str, chunk_ids: Sequence[str]) -> None:
        doomed = set(chunk_ids)
        for key, chunk in list(self._store.extractions.items()):
            if key[0] == room_id and chunk in doomed:
                del self._store.extractions[key]


class MemoryRoomRepository:
    """Stages projection rows; the jobs of a forgotten room go with the unit's commit."""

    def __init__(self, store: MemoryStore, jobs: MemoryIngestJobRepository) -> None:
        self._store = store
        self._jobs = jobs
        self.staged: dict[str, RoomView] = {}

    async def apply(self, room: RoomView) -> RoomView:
        current = await self.get(room.room_id)
        # Like the real upsert: never back in time, never out of deletion.
        if current is None or (not current.deleted and current.changed_at <= room.changed_at):
            self.staged[room.room_id] = current = room
        return current

    async def get(self, room_id: str) -> RoomView | None:
        return self.staged.get(room_id) or self._store.rooms.get(room_id)

    async def is_deleted(self, room_id: str) -> bool:
        room = await self.get(room_id)
        return room is not None and room.deleted

    async def forget_state(self, room_id: str) -> RoomForgotten:
        jobs = {j.job_id for j in self._jobs.visible() if j.body.room_id == room_id}
        self._jobs.forgotten |= jobs
        sources = [key for key in self._store.sources if key[0] == room_id]
        for key in sources:
            del self._store.sources[key]
        ledger = [key for key in self._store.extractions if key[0] == room_id]
        for key in ledger:
            del self._store.extractions[key]
        return RoomForgotten(len(jobs), len(sources), len(ledger))


class MemoryUnitOfWork(KitMemoryUnitOfWork):
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self._store = store

    def begin(self) -> None:
        self.jobs = MemoryIngestJobRepository(self._store)
        self.sources = MemorySourceRepository(self._store)
        self.extractions = MemoryExtractionLedger(self._store)
        self.rooms = MemoryRoomRepository(self._store, self.jobs)

    def apply(self) -> None:
        self._store.jobs.extend(self.jobs.staged)
        self._store.jobs[:] = [j for j in self._store.jobs if j.job_id not in self.jobs.forgotten]
        self._store.rooms.update(self.rooms.staged)
