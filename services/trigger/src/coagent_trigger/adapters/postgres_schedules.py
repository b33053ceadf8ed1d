"""PostgreSQL side of time triggers: clocks, debounce windows, and schedules via the outbox.

A schedule is armed by an outbox row carrying the ``Nats-Schedule`` headers, so it is published
only if the state change that armed it commits, and in commit order: the latest arm of a slot
is the one the broker keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    case,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_contracts.envelope import uuid7
from coagent_trigger.schedules import Arm, Burst, ClockState


def clock_table(metadata: MetaData) -> Table:
    """One row per active timer or cron policy: the instant its schedule is armed for."""
    return Table(
        "trigger_clocks",
        metadata,
        Column(
            "policy_id",
            String(64),
            ForeignKey("trigger_policies.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("anchor_at", DateTime(timezone=True), nullable=False),
        Column("next_at", DateTime(timezone=True), nullable=False),
    )


def burst_table(metadata: MetaData) -> Table:
    """One row per open debounce window of a (policy, room)."""
    return Table(
        "debounce_bursts",
        metadata,
        Column(
            "policy_id",
            String(64),
            ForeignKey("trigger_policies.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("room_id", String(64), primary_key=True),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("due_at", DateTime(timezone=True), nullable=False),
        Column("count", Integer, nullable=False),
        Column("last_event_id", String(64), nullable=False),
        Column("last_seq", BigInteger, nullable=False),
        Column("payload", JSONB, nullable=False),
    )


class OutboxScheduleQueue:
    """Arms schedules through the service's outbox (``Nats-Msg-Id`` makes relays idempotent)."""

    def __init__(self, session: AsyncSession, outbox: Table, on_queue: Callable[[], None]) -> None:
        self._session = session
        self._outbox = outbox
        self._on_queue = on_queue

    async def arm(self, arm: Arm) -> None:
        row_id = str(uuid7())
        await self._session.execute(
            self._outbox.insert().values(
                event_id=row_id,
                subject=arm.subject,
                payload=arm.due.model_dump_json(),
                headers={
                    "Nats-Msg-Id": row_id,
                    "Nats-Schedule": arm.header(),
                    "Nats-Schedule-Target": arm.target,
                },
            )
        )
        self._on_queue()


class PostgresClockRepository:
    """Clocks of timer and cron policies."""

    def __init__(self, session: AsyncSession, table: Table) -> None:
        self._session = session
        self._table = table

    async def get(self, policy_id: str, *, for_update: bool = False) -> ClockState | None:
        query = select(self._table).where(self._table.c.policy_id == policy_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return None if row is None else ClockState(row.policy_id, row.anchor_at, row.next_at)

    async def save(self, state: ClockState) -> None:
        values = {"anchor_at": state.anchor_at, "next_at": state.next_at}
        await self._session.execute(
            insert(self._table)
            .values(policy_id=state.policy_id, **values)
            .on_conflict_do_update(index_elements=[self._table.c.policy_id], set_=values)
        )

    async def delete(self, policy_id: str) -> None:
        await self._session.execute(delete(self._table).where(self._table.c.policy_id == policy_id))


class PostgresBurstRepository:
    """Debounce windows; the upsert takes the row lock, so concurrent matches all count."""

    def __init__(self, session: AsyncSession, table: Table) -> None:
        self._session = session
        self._table = table

    async def observe(
        self,
        policy_id: str,
        room_id: str,
        now: datetime,
        seq: int,
        event_id: str,
        payload: dict[str, Any],
    ) -> Burst:
        t = self._table
        newer = insert(t).excluded.last_seq > t.c.last_seq
        statement = (
            insert(t)
            .values(
                policy_id=policy_id,
                room_id=room_id,
                started_at=now,
                due_at=now,
                count=1,
                last_event_id=event_id,
                last_seq=seq,
                payload=payload,
            )
            .on_conflict_do_update(
                index_elements=[t.c.policy_id, t.c.room_id],
                # The room's order decides which message is the last, not the delivery order.
                set_={
                    "count": t.c.count + 1,
                    "last_event_id": case((newer, event_id), else_=t.c.last_event_id),
                    "payload": case((newer, insert(t).excluded.payload), else_=t.c.payload),
                    "last_seq": func.greatest(t.c.last_seq, seq),
                },
            )
            .returning(*t.c)
        )
        return _burst((await self._session.execute(statement)).one())

    async def set_due(self, policy_id: str, room_id: str, due_at: datetime) -> None:
        t = self._table
        await self._session.execute(
            update(t)
            .where(t.c.policy_id == policy_id, t.c.room_id == room_id)
            .values(due_at=due_at)
        )

    async def take(self, policy_id: str, room_id: str) -> Burst | None:
        t = self._table
        query = (
            select(t).where(t.c.policy_id == policy_id, t.c.room_id == room_id).with_for_update()
        )
        row = (await self._session.execute(query)).one_or_none()
        return None if row is None else _burst(row)

    async def delete(self, policy_id: str, room_id: str) -> None:
        t = self._table
        await self._session.execute(
            delete(t).where(t.c.policy_id == policy_id, t.c.room_id == room_id)
        )


def _burst(row: Any) -> Burst:
    return Burst(
        policy_id=row.policy_id,
        room_id=row.room_id,
        started_at=row.started_at,
        due_at=row.due_at,
        count=row.count,
        last_event_id=row.last_event_id,
        last_seq=row.last_seq,
        payload=row.payload,
    )
