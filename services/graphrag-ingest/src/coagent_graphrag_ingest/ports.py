"""What the graphrag-ingest service needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from coagent_graphrag_ingest.chunking import SourceRecord, TextChunk
from coagent_graphrag_ingest.domain import (
    IngestJob,
    JobStatus,
    NewIngestJob,
    RoomForgotten,
    RoomView,
    SourceKind,
)
from coagent_graphrag_ingest.extraction import Extraction
from coagent_kit.unit_of_work import UnitOfWorkPort


class IngestJobRepository(Protocol):
    """The ingest jobs of every room; ``source_event_id`` is unique."""

    async def add(self, job: NewIngestJob) -> IngestJob | None:
        """Store ``job`` as pending; None if a job for its ``source_event_id`` already exists."""
        ...

    async def list_for_room(self, room_id: str, limit: int) -> list[IngestJob]:
        """The newest ``limit`` jobs of ``room_id``, newest first."""
        ...

    async def forget_sources(
        self, room_id: str, source_kind: SourceKind, source_ids: tuple[str, ...]
    ) -> int:
        """Delete every job about these sources of ``room_id``; how many there were."""
        ...

    async def pending_rooms(self, limit: int) -> list[str]:
        """Rooms with jobs not yet processed (to resume after a restart), at most ``limit``."""
        ...

    async def pending_ids(self, room_id: str) -> list[str]:
        """Ids of the room's jobs not yet processed, oldest first."""
        ...

    async def finish(
        self, room_id: str, job_ids: Sequence[str], status: JobStatus
    ) -> list[IngestJob]:
        """Set these pending jobs' status; the jobs changed (forgotten ones are gone)."""
        ...


class SourceRepository(Protocol):
    """The text of each room's messages and artifacts, as extraction reads it."""

    async def put(self, room_id: str, source: SourceRecord) -> None:
        """Store or replace (a new artifact revision) one source."""
        ...

    async def for_room(self, room_id: str) -> list[SourceRecord]:
        """Every source of the room (chunking orders them)."""
        ...

    async def forget(self, room_id: str, source_ids: Sequence[str]) -> int:
        """Delete these sources' text; how many there were."""
        ...

    async def remember_erased(self, room_id: str, message_ids: Sequence[str]) -> None:
        """Keep the ids of erased messages, so a late or replayed post cannot bring them back."""
        ...

    async def was_erased(self, room_id: str, message_id: str) -> bool:
        """Whether the message was erased (its posted event must then be ignored)."""
        ...


class ExtractionLedger(Protocol):
    """Which extractions (delta keys) a room's graph already holds, and for which chunk."""

    async def known(self, room_id: str, keys: Sequence[str]) -> set[str]:
        """The subset of ``keys`` already extracted and written."""
        ...

    async def record(self, room_id: str, entries: Sequence[tuple[str, str]]) -> None:
        """Remember ``(key, chunk id)`` pairs once their results are written."""
        ...

    async def chunk_ids(self, room_id: str) -> set[str]:
        """Ids of every chunk the room's recorded extractions produced."""
        ...

    async def forget_chunks(self, room_id: str, chunk_ids: Sequence[str]) -> None:
        """Forget the extractions of chunks that no longer exist."""
        ...


class RoomRepository(Protocol):
    """The room projection (room -> course, deleted or not), one row per room."""

    async def apply(self, room: RoomView) -> RoomView:
        """Store ``room`` unless the row is newer or the room already deleted; the row after."""
        ...

    async def get(self, room_id: str) -> RoomView | None: ...

    async def is_deleted(self, room_id: str) -> bool:
        """Whether the room is known to be deleted; holds off a concurrent ``forget_state``
        of the room until this transaction ends, so nothing is recorded in a room as it goes."""
        ...

    async def forget_state(self, room_id: str) -> RoomForgotten:
        """Delete the room's jobs, sources and extraction ledger."""
        ...


class UnitOfWork(UnitOfWorkPort, Protocol):
    """One transaction: job changes and the events they cause."""

    # A read-only property rather than an attribute: a mutable protocol attribute would be
    # invariant, and no adapter could then narrow it to its own repository class.
    @property
    def jobs(self) -> IngestJobRepository:
        """The jobs, as seen inside this transaction."""
        ...

    @property
    def sources(self) -> SourceRepository: ...

    @property
    def extractions(self) -> ExtractionLedger: ...

    @property
    def rooms(self) -> RoomRepository: ...


class Embedder(Protocol):
    """Texts to vectors of the VectorIndex's dimension; the same text, the same vector."""

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class Extractor(Protocol):
    """Entities and relations stated by one chunk (a model call, or offline rules)."""

    @property
    def version(self) -> str:
        """Part of the delta key: another extractor (or model) means extracting again."""
        ...

    async def extract(self, chunk: TextChunk) -> Extraction: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
