"""What the graphrag-ingest service needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coagent_graphrag_ingest.domain import IngestJob, NewIngestJob, SourceKind
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


class UnitOfWork(UnitOfWorkPort, Protocol):
    """One transaction: job changes and the events they cause."""

    # A read-only property rather than an attribute: a mutable protocol attribute would be
    # invariant, and no adapter could then narrow it to its own repository class.
    @property
    def jobs(self) -> IngestJobRepository:
        """The jobs, as seen inside this transaction."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
