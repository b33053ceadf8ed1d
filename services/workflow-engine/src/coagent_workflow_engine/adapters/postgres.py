"""PostgreSQL adapter: runs, the outbox and the inbox in the workflow-engine database."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_kit.db import new_metadata
from coagent_kit.outbox import inbox_table, outbox_table
from coagent_kit.unit_of_work import SqlUnitOfWork
from coagent_workflow_engine.domain import Run, RunTrigger

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workflow_id", String(64), nullable=False),
    Column("workflow_version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    # The trigger columns are null together, for runs started directly rather than by a firing.
    Column("trigger_kind", String(32)),
    Column("policy_id", String(64)),
    # Unique: exactly one run per firing (NULLs, direct runs, never collide).
    Column("firing_key", String(255), unique=True),
    Column("event_id", String(64)),
    Column("room_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("error", Text),
    # Serves "latest runs of a workflow" without a sort.
    Index("ix_runs_workflow_id_created_at", "workflow_id", "created_at", "id"),
)


class PostgresRunRepository:
    """The unique firing key makes concurrent deliveries of one firing create one row."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, run: Run) -> bool:
        trigger = run.trigger
        statement = (
            insert(runs)
            .values(
                id=run.id,
                workflow_id=run.workflow_id,
                workflow_version=run.workflow_version,
                status=run.status,
                trigger_kind=trigger.kind if trigger else None,
                policy_id=trigger.policy_id if trigger else None,
                firing_key=trigger.firing_key if trigger else None,
                event_id=trigger.event_id if trigger else None,
                room_id=run.room_id,
                created_at=run.created_at,
                started_at=run.started_at,
                finished_at=run.finished_at,
                error=run.error,
            )
            .on_conflict_do_nothing(index_elements=[runs.c.firing_key])
            .returning(runs.c.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def get(self, workflow_id: str, run_id: str) -> Run | None:
        rows = await self._session.execute(
            select(runs).where(runs.c.id == run_id, runs.c.workflow_id == workflow_id)
        )
        row = rows.mappings().one_or_none()
        return None if row is None else _to_run(row)

    async def list_for_workflow(self, workflow_id: str, limit: int) -> list[Run]:
        rows = await self._session.execute(
            select(runs)
            .where(runs.c.workflow_id == workflow_id)
            .order_by(runs.c.created_at.desc(), runs.c.id.desc())
            .limit(limit)
        )
        return [_to_run(row) for row in rows.mappings()]


def _to_run(r: RowMapping) -> Run:
    trigger = None
    if r["firing_key"] is not None:
        trigger = RunTrigger(
            kind=r["trigger_kind"],
            policy_id=r["policy_id"],
            firing_key=r["firing_key"],
            event_id=r["event_id"],
        )
    return Run(
        id=r["id"],
        workflow_id=r["workflow_id"],
        workflow_version=r["workflow_version"],
        status=r["status"],
        trigger=trigger,
        room_id=r["room_id"],
        created_at=r["created_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        error=r["error"],
    )


class PostgresUnitOfWork(SqlUnitOfWork):
    """One database transaction; ``on_commit`` wakes the outbox relay."""

    OUTBOX = outbox
    INBOX = inbox

    def bind(self, session: AsyncSession) -> None:
        self.runs = PostgresRunRepository(session)
