"""PostgreSQL: workflow documents, run steps, room history, and run claims (migration 0004).

Claims use ``FOR UPDATE SKIP LOCKED`` so any number of worker processes can poll the same table
without handing one run to two of them; a lease that is not renewed expires, and the run is then
claimable again (crash recovery resumes it from its LangGraph checkpoint).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_workflow_engine.adapters.postgres import (
    PostgresRunRepository,
    PostgresUnitOfWork,
    metadata,
    run_values,
    runs,
    to_run,
)
from coagent_workflow_engine.domain import HistoryMessage, Run, Step
from coagent_workflow_engine.workflows.domain import Workflow, WorkflowVersion

_ID = String(64)


def _now(name: str) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


workflows = Table(
    "workflows",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_by", _ID),
    Column("is_active", Boolean, nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("limits", JSONB, nullable=False),
    _now("created_at"),
    _now("updated_at"),
    Column("deleted_at", DateTime(timezone=True)),
    Index("ix_workflows_created_by_updated_at", "created_by", "updated_at"),
)

workflow_versions = Table(
    "workflow_versions",
    metadata,
    Column(
        "workflow_id",
        _ID,
        ForeignKey("workflows.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    Column("graph", JSONB, nullable=False),
    Column("created_by", _ID),
    _now("created_at"),
)

room_workflows = Table(
    "room_workflows",
    metadata,
    Column("room_id", _ID, primary_key=True),
    Column("workflow_id", _ID, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False),
)

run_steps = Table(
    "run_steps",
    metadata,
    Column("run_id", _ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("node_id", String(128), primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("node_type", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("input", JSONB, nullable=False),
    Column("output", JSONB, nullable=False),
    Column("tokens", Integer, nullable=False),
    Column("cost", Float, nullable=False),
    Column("error", Text),
)

room_history = Table(
    "room_history",
    metadata,
    Column("room_id", _ID, primary_key=True),
    Column("message_id", _ID, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("sender_kind", String(16), nullable=False),
    Column("sender_name", String(200)),
    Column("agent_id", _ID),
    Column("content", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_room_history_room_id_seq", "room_id", "seq"),
)

#: Messages chat erased: their posted event may still arrive (or be replayed) after the tombstone.
room_history_erased = Table(
    "room_history_erased",
    metadata,
    Column("room_id", _ID, primary_key=True),
    Column("message_id", _ID, primary_key=True),
    Column("erased_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class PostgresEngineRuns(PostgresRunRepository):
    """Runs, plus what workers and the execute/cancel/resume routes need."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._s = session

    async def by_id(self, run_id: str) -> Run | None:
        row = (await self._s.execute(select(runs).where(runs.c.id == run_id))).mappings().first()
        return None if row is None else to_run(row)

    async def by_idempotency_key(
        self, workflow_id: str, created_by: str | None, key: str
    ) -> Run | None:
        statement = select(runs).where(
            runs.c.workflow_id == workflow_id,
            runs.c.created_by == created_by,
            runs.c.idempotency_key == key,
        )
        row = (await self._s.execute(statement)).mappings().first()
        return None if row is None else to_run(row)

    async def save(self, run: Run) -> None:
        values = run_values(run)
        values.pop("id")
        await self._s.execute(update(runs).where(runs.c.id == run.id).values(**values))

    async def claim(
        self, owner: str, lease_s: float, now: datetime, exclude: Collection[str] = ()
    ) -> Run | None:
        candidate = (
            select(runs.c.id)
            .where(
                runs.c.status.in_(("queued", "running")),
                or_(runs.c.lease_expires_at.is_(None), runs.c.lease_expires_at < now),
                runs.c.id.not_in(list(exclude)),
            )
            .order_by(runs.c.created_at, runs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            update(runs)
            .where(runs.c.id == candidate)
            .values(
                status="running",
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_s),
                attempt=runs.c.attempt + 1,
                started_at=func.coalesce(runs.c.started_at, now),
            )
            .returning(*runs.c)
        )
        row = (await self._s.execute(statement)).mappings().first()
        return None if row is None else to_run(row)

    async def renew(self, run_id: str, owner: str, lease_s: float, now: datetime) -> Run | None:
        statement = (
            update(runs)
            .where(runs.c.id == run_id, runs.c.lease_owner == owner, runs.c.status == "running")
            .values(lease_expires_at=now + timedelta(seconds=lease_s))
            .returning(*runs.c)
        )
        row = (await self._s.execute(statement)).mappings().first()
        return None if row is None else to_run(row)


class PostgresSteps:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def find(self, run_id: str, node_id: str, step: int) -> Step | None:
        statement = select(run_steps).where(
            run_steps.c.run_id == run_id, run_steps.c.node_id == node_id, run_steps.c.step == step
        )
        row = (await self._s.execute(statement)).mappings().first()
        return None if row is None else _to_step(row)

    async def put(self, step: Step) -> None:
        values = {
            "run_id": step.run_id,
            "node_id": step.node_id,
            "step": step.step,
            "node_type": step.node_type,
            "status": step.status,
            "started_at": step.started_at,
            "finished_at": step.finished_at,
            "input": step.input,
            "output": step.output,
            "tokens": step.tokens,
            "cost": step.cost,
            "error": step.error,
        }
        statement = insert(run_steps).values(**values)
        keys = ("run_id", "node_id", "step")
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={k: statement.excluded[k] for k in values if k not in keys},
        )
        await self._s.execute(statement)

    async def of_run(self, run_id: str) -> list[Step]:
        statement = (
            select(run_steps)
            .where(run_steps.c.run_id == run_id)
            .order_by(run_steps.c.step, run_steps.c.started_at, run_steps.c.node_id)
        )
        return [_to_step(row) for row in (await self._s.execute(statement)).mappings()]


def _to_step(r: RowMapping) -> Step:
    return Step(**{c.name: r[c.name] for c in run_steps.c})


class PostgresWorkflows:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, workflow: Workflow) -> None:
        await self._s.execute(insert(workflows).values(**_workflow_values(workflow)))

    async def update(self, workflow: Workflow) -> None:
        values = _workflow_values(workflow)
        values.pop("id")
        await self._s.execute(
            update(workflows).where(workflows.c.id == workflow.id).values(**values)
        )

    async def get(self, workflow_id: str) -> Workflow | None:
        statement = select(workflows).where(
            workflows.c.id == workflow_id, workflows.c.deleted_at.is_(None)
        )
        row = (await self._s.execute(statement)).mappings().first()
        return None if row is None else Workflow(**row)

    async def of_owner(self, created_by: str | None) -> list[Workflow]:
        statement = select(workflows).where(workflows.c.deleted_at.is_(None))
        if created_by is not None:
            statement = statement.where(workflows.c.created_by == created_by)
        statement = statement.order_by(workflows.c.updated_at.desc(), workflows.c.id.desc())
        return [Workflow(**row) for row in (await self._s.execute(statement)).mappings()]

    async def add_version(self, version: WorkflowVersion) -> None:
        await self._s.execute(
            insert(workflow_versions).values(
                workflow_id=version.workflow_id,
                version=version.version,
                graph=version.graph,
                created_by=version.created_by,
                created_at=version.created_at,
            )
        )

    async def version(self, workflow_id: str, number: int) -> WorkflowVersion | None:
        statement = select(workflow_versions).where(
            workflow_versions.c.workflow_id == workflow_id,
            workflow_versions.c.version == number,
        )
        row = (await self._s.execute(statement)).mappings().first()
        return None if row is None else WorkflowVersion(**row)

    async def versions(self, workflow_id: str) -> list[WorkflowVersion]:
        statement = (
            select(workflow_versions)
            .where(workflow_versions.c.workflow_id == workflow_id)
            .order_by(workflow_versions.c.version.desc())
        )
        return [WorkflowVersion(**row) for row in (await self._s.execute(statement)).mappings()]

    async def room_workflow(self, room_id: str) -> str | None:
        statement = select(room_workflows.c.workflow_id).where(room_workflows.c.room_id == room_id)
        value: str | None = (await self._s.execute(statement)).scalar()
        return value

    async def attach(self, room_id: str, workflow_id: str) -> None:
        statement = insert(room_workflows).values(room_id=room_id, workflow_id=workflow_id)
        await self._s.execute(
            statement.on_conflict_do_update(
                index_elements=["room_id"], set_={"workflow_id": workflow_id}
            )
        )

    async def detach(self, room_id: str) -> None:
        await self._s.execute(delete(room_workflows).where(room_workflows.c.room_id == room_id))


def _workflow_values(workflow: Workflow) -> dict[str, Any]:
    return {c.name: getattr(workflow, c.name) for c in workflows.c}


class PostgresHistory:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, message: HistoryMessage, keep: int) -> bool:
        e = room_history_erased.c
        erased = select(e.message_id).where(
            e.room_id == message.room_id, e.message_id == message.message_id
        )
        if (await self._s.execute(erased)).first() is not None:
            return False
        values = {c.name: getattr(message, c.name) for c in room_history.c}
        statement = insert(room_history).values(**values).on_conflict_do_nothing()
        added = (await self._s.execute(statement.returning(room_history.c.message_id))).first()
        if added is None:
            return False
        newest = (
            select(room_history.c.seq)
            .where(room_history.c.room_id == message.room_id)
            .order_by(room_history.c.seq.desc())
            .offset(keep - 1)
            .limit(1)
            .scalar_subquery()
        )
        await self._s.execute(
            delete(room_history).where(
                room_history.c.room_id == message.room_id, room_history.c.seq < newest
            )
        )
        return True

    async def erase(self, room_id: str, message_ids: Sequence[str]) -> int:
        ids = list(message_ids)
        if not ids:
            return 0
        rows = [{"room_id": room_id, "message_id": i} for i in ids]
        await self._s.execute(insert(room_history_erased).values(rows).on_conflict_do_nothing())
        h = room_history.c
        result = await self._s.execute(
            delete(room_history).where(h.room_id == room_id, h.message_id.in_(ids))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def recent(self, room_id: str, limit: int) -> list[HistoryMessage]:
        statement = (
            select(room_history)
            .where(room_history.c.room_id == room_id)
            .order_by(room_history.c.seq.desc())
            .limit(limit)
        )
        rows = (await self._s.execute(statement)).mappings().all()
        return [HistoryMessage(**row) for row in reversed(rows)]


class PostgresEngineUnitOfWork(PostgresUnitOfWork):
    """Runs, steps, workflows and room history in one transaction."""

    runs: PostgresEngineRuns
    steps: PostgresSteps
    workflows: PostgresWorkflows
    history: PostgresHistory

    def bind(self, session: AsyncSession) -> None:
        self.runs = PostgresEngineRuns(session)
        self.steps = PostgresSteps(session)
        self.workflows = PostgresWorkflows(session)
        self.history = PostgresHistory(session)
