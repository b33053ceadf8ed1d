"""PostgreSQL adapter: the ingest jobs table and the outbox in the graphrag-ingest database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    String,
    Table,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_contracts.envelope import uuid7
from coagent_graphrag_ingest.domain import (
    JOB_STATUSES,
    SOURCE_KINDS,
    IngestJob,
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
