"""PostgreSQL adapter: runs, the outbox and the inbox in the workflow-engine database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
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
    # Columns of migration 0004: execution, leases, cancel, human input.
    Column("error_code", String(64)),
    Column("created_by", String(64)),
    Column("input", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("idempotency_key", String(255)),
    Column("lease_owner", String(128)),
    Column("lease_expires_at", DateTime(timezone=True)),
    Column("attempt", Integer, nullable=False, server_default=text("0")),
    Column("cancel_requested", Boolean, nullable=False, server_default=text("false")),
    Column("pending_input", JSONB),
    Column("resume", JSONB),
    Column("output", JSONB),
    # Columns of migration 0007: subworkflow child runs.
    Column("parent_run_id", String(64)),
    Column("limits", JSONB),
    # Column of migration 0009: the trace a claimed run continues.
    Column("trace_context", JSONB),
    Index("ix_runs_parent_run_id", "parent_run_id"),
    # Serves "latest runs of a workflow" without a sort.
    Index("ix_runs_workflow_id_created_at", "workflow_id", "created_at", "id"),
    # Serves the workers' claim query (runs waiting or with a lease that may have expired).
    Index("ix_runs_status_lease_expires_at", "status", "lease_expires_at"),
    # A retried ``execute`` with the same Idempotency-Key (per caller) finds the first run.
    UniqueConstraint("workflow_id", "created_by", "idempotency_key", name="uq_runs_idempotency"),
)


def run_values(run: Run) -> dict[str, Any]:
    """Every column of ``run``'s row."""
    trigger = run.trigger
    return {
        "id": run.id,
        "workflow_id": run.workflow_id,
        "workflow_version": run.workflow_version,
        "status": run.status,
        "trigger_kind": trigger.kind if trigger else None,
        "policy_id": trigger.policy_id if trigger else None,
        "firing_key": trigger.firing_key if trigger else None,
        "event_id": trigger.event_id if trigger else None,
        "room_id": run.room_id,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "error_code": run.error_code,
        "created_by": run.created_by,
        "input": run.input,
        "idempotency_key": run.idempotency_key,
        "lease_owner": run.lease_owner,
        "lease_expires_at": run.lease_expires_at,
        "attempt": run.attempt,
        "cancel_requested": run.cancel_requested,
        "pending_input": run.pending_input,
        "resume": run.resume,
        "output": run.output,
        "parent_run_id": run.parent_run_id,
        "limits": run.limits,
        "trace_context": run.trace_context,
    }


class PostgresRunRepository:
    """The unique firing key makes concurrent deliveries of one firing create one row."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, run: Run) -> bool:
        statement = (
            insert(runs).values(**run_values(run)).on_conflict_do_nothing().returning(runs.c.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def get(self, workflow_id: str, run_id: str) -> Run | None:
        rows = await self._session.execute(
            select(runs).where(runs.c.id == run_id, runs.c.workflow_id == workflow_id)
        )
        row = rows.mappings().one_or_none()
        return None if row is None else to_run(row)

    async def list_for_workflow(self, workflow_id: str, limit: int) -> list[Run]:
        rows = await self._session.execute(
            select(runs)
            .where(runs.c.workflow_id == workflow_id)
            .order_by(runs.c.created_at.desc(), runs.c.id.desc())
            .limit(limit)
        )
        return [to_run(row) for row in rows.mappings()]


def to_run(r: RowMapping) -> Run:
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
        error_code=r["error_code"],
        created_by=r["created_by"],
        input=r["input"] or {},
        idempotency_key=r["idempotency_key"],
        lease_owner=r["lease_owner"],
        lease_expires_at=r["lease_expires_at"],
        attempt=r["attempt"],
        cancel_requested=r["cancel_requested"],
        pending_input=r["pending_input"],
        resume=r["resume"],
        output=r["output"],
        parent_run_id=r["parent_run_id"],
        limits=r["limits"],
        trace_context=r["trace_context"],
    )


class PostgresUnitOfWork(SqlUnitOfWork):
    """One database transaction; ``on_commit`` wakes the outbox relay."""

    OUTBOX = outbox
    INBOX = inbox

    def bind(self, session: AsyncSession) -> None:
        self.runs = PostgresRunRepository(session)
