"""PostgreSQL tables and repository of the overlap projection (runs in progress, held firings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_trigger.overlap import BufferedFiring, TrackedRun


def overlap_tables(metadata: MetaData) -> tuple[Table, Table]:
    """``tracked_runs`` and ``buffered_firings``, registered on the service's ``metadata``.

    Tracked runs have no foreign key to their policy: lifecycle events of a deleted policy's
    runs still arrive and must not fail.
    """
    tracked = Table(
        "tracked_runs",
        metadata,
        Column("firing_key", String(255), primary_key=True),
        Column("policy_id", String(64), nullable=False),
        Column("room_key", String(64), nullable=False),
        Column("state", String(16), nullable=False),
        Column("run_id", String(64)),
        Column("cancel_requested", Boolean, nullable=False),
        Column("cancel_sent", Boolean, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("workflow_id", String(64)),
        Column("kind", String(32)),
        Column("fired_event_id", String(64)),
        Column("fired_at", DateTime(timezone=True)),
        Column("status", String(16)),
        Column("started_at", DateTime(timezone=True)),
        Column("finished_at", DateTime(timezone=True)),
        Column("error", Text),
        Index("ix_tracked_runs_slot", "policy_id", "room_key"),
        Index("ix_tracked_runs_policy_fired", "policy_id", "fired_at"),
    )
    buffered = Table(
        "buffered_firings",
        metadata,
        Column(
            "policy_id",
            String(64),
            ForeignKey("trigger_policies.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("room_key", String(64), primary_key=True),
        Column("firing_key", String(255), nullable=False),
        Column("event_data", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    return tracked, buffered


def _tracked(row: Any) -> TrackedRun:
    return TrackedRun(
        firing_key=row.firing_key,
        policy_id=row.policy_id,
        room_key=row.room_key,
        state=row.state,
        updated_at=row.updated_at,
        run_id=row.run_id,
        cancel_requested=row.cancel_requested,
        cancel_sent=row.cancel_sent,
        workflow_id=row.workflow_id,
        kind=row.kind,
        fired_event_id=row.fired_event_id,
        fired_at=row.fired_at,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
    )


class PostgresOverlapRepository:
    """Slot writers are serialised by a transaction-scoped advisory lock on (policy, room)."""

    def __init__(self, session: AsyncSession, tracked: Table, buffered: Table) -> None:
        self._session = session
        self._tracked = tracked
        self._buffered = buffered

    async def lock(self, policy_id: str, room_key: str) -> None:
        key = func.hashtextextended(f"overlap:{policy_id}:{room_key}", 0)
        await self._session.execute(select(func.pg_advisory_xact_lock(key)))

    async def tracked(self, policy_id: str, room_key: str) -> list[TrackedRun]:
        c = self._tracked.c
        query = select(self._tracked).where(
            c.policy_id == policy_id, c.room_key == room_key, c.state != "ended"
        )
        return [_tracked(row) for row in await self._session.execute(query)]

    async def get(self, firing_key: str) -> TrackedRun | None:
        query = select(self._tracked).where(self._tracked.c.firing_key == firing_key)
        row = (await self._session.execute(query)).one_or_none()
        return None if row is None else _tracked(row)

    async def save(self, run: TrackedRun) -> None:
        values = {
            "policy_id": run.policy_id,
            "room_key": run.room_key,
            "state": run.state,
            "run_id": run.run_id,
            "cancel_requested": run.cancel_requested,
            "cancel_sent": run.cancel_sent,
            "updated_at": run.updated_at,
            "workflow_id": run.workflow_id,
            "kind": run.kind,
            "fired_event_id": run.fired_event_id,
            "fired_at": run.fired_at,
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "error": run.error,
        }
        await self._session.execute(
            insert(self._tracked)
            .values(firing_key=run.firing_key, **values)
            .on_conflict_do_update(index_elements=[self._tracked.c.firing_key], set_=values)
        )

    async def prune(self, policy_id: str, room_key: str, ended_before: datetime, keep: int) -> None:
        c = self._tracked.c
        slot = (c.policy_id == policy_id, c.room_key == room_key)
        latest = (
            select(c.firing_key)
            .where(*slot)
            .order_by(c.fired_at.desc().nulls_last(), c.firing_key.desc())
            .limit(keep)
        )
        await self._session.execute(
            delete(self._tracked).where(
                *slot,
                c.state == "ended",
                c.updated_at < ended_before,
                c.firing_key.not_in(latest.scalar_subquery()),
            )
        )

    async def runs(self, policy_id: str, limit: int) -> list[TrackedRun]:
        c = self._tracked.c
        query = (
            select(self._tracked)
            .where(c.policy_id == policy_id, c.run_id.is_not(None))
            .order_by(c.fired_at.desc().nulls_last(), c.firing_key.desc())
            .limit(limit)
        )
        return [_tracked(row) for row in await self._session.execute(query)]

    async def buffered(self, policy_id: str, room_key: str) -> BufferedFiring | None:
        c = self._buffered.c
        query = select(self._buffered).where(c.policy_id == policy_id, c.room_key == room_key)
        row = (await self._session.execute(query)).one_or_none()
        if row is None:
            return None
        return BufferedFiring(
            policy_id=row.policy_id,
            room_key=row.room_key,
            firing_key=row.firing_key,
            created_at=row.created_at,
            event_data=row.event_data,
        )

    async def hold(self, firing: BufferedFiring) -> None:
        values = {
            "firing_key": firing.firing_key,
            "event_data": firing.event_data,
            "created_at": firing.created_at,
        }
        await self._session.execute(
            insert(self._buffered)
            .values(policy_id=firing.policy_id, room_key=firing.room_key, **values)
            .on_conflict_do_update(
                index_elements=[self._buffered.c.policy_id, self._buffered.c.room_key],
                set_=values,
            )
        )

    async def release(self, policy_id: str, room_key: str) -> None:
        c = self._buffered.c
        await self._session.execute(
            delete(self._buffered).where(c.policy_id == policy_id, c.room_key == room_key)
        )
