"""PostgreSQL adapter: the ingest jobs table and the outbox in the graphrag-ingest database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_contracts.envelope import uuid7
from coagent_graphrag_ingest.adapters.postgres_rooms import PostgresRoomRepository, room_table
from coagent_graphrag_ingest.chunking import SourceRecord
from coagent_graphrag_ingest.domain import (
    JOB_STATUSES,
    SOURCE_KINDS,
    IngestJob,
    JobStatus,
    NewIngestJob,
    SourceKind,
)
from coagent_kit.db import new_metadata
from coagent_kit.outbox import outbox_table
from coagent_kit.unit_of_work import SqlUnitOfWork

metadata = new_metadata()
outbox = outbox_table(metadata)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


ingest_jobs = Table(
    "ingest_jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("room_id", String(64), nullable=False),
    Column("source_kind", String(16), nullable=False),
    Column("source_id", String(64), nullable=False),
    # The natural key of idempotency: a redelivered event hits this constraint and adds nothing.
    Column("source_event_id", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_one_of("source_kind", SOURCE_KINDS), name="source_kind"),
    CheckConstraint(_one_of("status", JOB_STATUSES), name="status"),
    # Serves the per-room listing, newest first.
    Index("ix_ingest_jobs_room_created", "room_id", "created_at"),
)


#: The text extraction reads; a tombstone deletes the row, so forgotten text is gone here too.
ingest_sources = Table(
    "ingest_sources",
    metadata,
    Column("room_id", String(64), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("source_kind", String(16), nullable=False),
    Column("seq", BigInteger, nullable=False, server_default="0"),
    Column("speaker", String(200), nullable=False),
    Column("speaker_kind", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("room_id", "source_id"),
    CheckConstraint("source_kind in ('message', 'artifact')", name="source_kind"),
)

#: Ids of erased messages: chat's posted and erased events reach ingest through two consumers,
#: so a posted event may arrive (or be replayed) after its tombstone and must not revive it.
ingest_erased_messages = Table(
    "ingest_erased_messages",
    metadata,
    Column("room_id", String(64), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("room_id", "message_id"),
)

#: Delta keys (sha256 of prompt version, extractor, sources and text) already in the graph.
ingest_extractions = Table(
    "ingest_extractions",
    metadata,
    Column("room_id", String(64), nullable=False),
    Column("extraction_key", String(64), nullable=False),
    Column("chunk_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("room_id", "extraction_key"),
    Index("ix_ingest_extractions_room_chunk", "room_id", "chunk_id"),
)


#: The room projection (see postgres_rooms.py).
ingest_rooms = room_table(metadata)


class PostgresSourceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(self, room_id: str, source: SourceRecord) -> None:
        values = {
            "source_kind": source.source_kind,
            "seq": source.seq,
            "speaker": source.speaker[:200],
            "speaker_kind": source.speaker_kind,
            "content": source.content,
            "updated_at": func.now(),
        }
        statement = insert(ingest_sources).values(
            room_id=room_id, source_id=source.source_id, **values
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[ingest_sources.c.room_id, ingest_sources.c.source_id],
                set_=values,
            )
        )

    async def for_room(self, room_id: str) -> list[SourceRecord]:
        rows = await self._session.execute(
            select(ingest_sources).where(ingest_sources.c.room_id == room_id)
        )
        return [
            SourceRecord(
                source_kind=row["source_kind"],
                source_id=row["source_id"],
                speaker=row["speaker"],
                speaker_kind=row["speaker_kind"],
                content=row["content"],
                seq=row["seq"],
            )
            for row in rows.mappings()
        ]

    async def forget(self, room_id: str, source_ids: Sequence[str]) -> int:
        result = await self._session.execute(
            delete(ingest_sources).where(
                ingest_sources.c.room_id == room_id,
                ingest_sources.c.source_id.in_(list(source_ids)),
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def remember_erased(self, room_id: str, message_ids: Sequence[str]) -> None:
        rows = [{"room_id": room_id, "message_id": i} for i in message_ids]
        if rows:
            await self._session.execute(
                insert(ingest_erased_messages).values(rows).on_conflict_do_nothing()
            )

    async def was_erased(self, room_id: str, message_id: str) -> bool:
        e = ingest_erased_messages.c
        found = await self._session.execute(
            select(e.message_id).where(e.room_id == room_id, e.message_id == message_id)
        )
        return found.first() is not None


class PostgresExtractionLedger:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def known(self, room_id: str, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        rows = await self._session.execute(
            select(ingest_extractions.c.extraction_key).where(
                ingest_extractions.c.room_id == room_id,
                ingest_extractions.c.extraction_key.in_(list(keys)),
            )
        )
        return set(rows.scalars())

    async def record(self, room_id: str, entries: Sequence[tuple[str, str]]) -> None:
        if not entries:
            return
        rows = [{"room_id": room_id, "extraction_key": k, "chunk_id": c} for k, c in entries]
        await self._session.execute(
            insert(ingest_extractions).values(rows).on_conflict_do_nothing()
        )

    async def chunk_ids(self, room_id: str) -> set[str]:
        rows = await self._session.execute(
            select(ingest_extractions.c.chunk_id).where(ingest_extractions.c.room_id == room_id)
        )
        return set(rows.scalars())

    async def forget_chunks(self, room_id: str, chunk_ids: Sequence[str]) -> None:
        if chunk_ids:
            await self._session.execute(
                delete(ingest_extractions).where(
                    ingest_extractions.c.room_id == room_id,
                    ingest_extractions.c.chunk_id.in_(list(chunk_ids)),
                )
            )


class PostgresIngestJobRepository:
    """Jobs are inserted with ON CONFLICT DO NOTHING on ``source_event_id``."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, job: NewIngestJob) -> IngestJob | None:
        statement = (
            insert(ingest_jobs)
            .values(
                job_id=str(uuid7()),
                room_id=job.room_id,
                source_kind=job.source_kind,
                source_id=job.source_id,
                source_event_id=job.source_event_id,
            )
            .on_conflict_do_nothing(index_elements=[ingest_jobs.c.source_event_id])
            .returning(ingest_jobs)
        )
        row = (await self._session.execute(statement)).mappings().first()
        return None if row is None else _to_job(row)

    async def list_for_room(self, room_id: str, limit: int) -> list[IngestJob]:
        rows = await self._session.execute(
            select(ingest_jobs)
            .where(ingest_jobs.c.room_id == room_id)
            .order_by(ingest_jobs.c.created_at.desc(), ingest_jobs.c.job_id.desc())
            .limit(limit)
        )
        return [_to_job(row) for row in rows.mappings()]

    async def forget_sources(
        self, room_id: str, source_kind: SourceKind, source_ids: tuple[str, ...]
    ) -> int:
        result = await self._session.execute(
            delete(ingest_jobs).where(
                ingest_jobs.c.room_id == room_id,
                ingest_jobs.c.source_kind == source_kind,
                ingest_jobs.c.source_id.in_(source_ids),
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def pending_rooms(self, limit: int) -> list[str]:
        rows = await self._session.execute(
            select(ingest_jobs.c.room_id)
            .where(ingest_jobs.c.status == "pending")
            .group_by(ingest_jobs.c.room_id)
            .order_by(func.min(ingest_jobs.c.created_at))
            .limit(limit)
        )
        return list(rows.scalars())

    async def pending_ids(self, room_id: str) -> list[str]:
        rows = await self._session.execute(
            select(ingest_jobs.c.job_id)
            .where(ingest_jobs.c.room_id == room_id, ingest_jobs.c.status == "pending")
            .order_by(ingest_jobs.c.job_id)
        )
        return list(rows.scalars())

    async def finish(
        self, room_id: str, job_ids: Sequence[str], status: JobStatus
    ) -> list[IngestJob]:
        if not job_ids:
            return []
        rows = await self._session.execute(
            update(ingest_jobs)
            .where(
                ingest_jobs.c.room_id == room_id,
                ingest_jobs.c.job_id.in_(list(job_ids)),
                ingest_jobs.c.status == "pending",
            )
            .values(status=status, updated_at=func.now())
            .returning(ingest_jobs)
        )
        return sorted((_to_job(r) for r in rows.mappings()), key=lambda j: j.job_id)


def _to_job(row: Any) -> IngestJob:
    return IngestJob(
        job_id=row["job_id"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        body=NewIngestJob(
            room_id=row["room_id"],
            source_kind=row["source_kind"],
            source_id=row["source_id"],
            source_event_id=row["source_event_id"],
        ),
    )


class PostgresUnitOfWork(SqlUnitOfWork):
    """One database transaction; ``on_commit`` wakes the outbox relay."""

    OUTBOX = outbox

    def bind(self, session: AsyncSession) -> None:
        self.jobs = PostgresIngestJobRepository(session)
        self.sources = PostgresSourceRepository(session)
        self.extractions = PostgresExtractionLedger(session)
        self.rooms = PostgresRoomRepository(
            session, ingest_rooms, ingest_jobs, ingest_sources, ingest_extractions
        )
