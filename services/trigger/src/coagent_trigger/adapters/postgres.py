"""PostgreSQL adapter: room activity, trigger policies, the firing log, outbox and inbox."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_kit.db import new_metadata
from coagent_kit.outbox import inbox_table, outbox_table
from coagent_kit.unit_of_work import SqlUnitOfWork
from coagent_trigger.adapters.postgres_overlap import PostgresOverlapRepository, overlap_tables
from coagent_trigger.adapters.postgres_rooms import PostgresRoomRepository, room_table
from coagent_trigger.adapters.postgres_schedules import (
    OutboxScheduleQueue,
    PostgresBurstRepository,
    PostgresClockRepository,
    burst_table,
    clock_table,
)
from coagent_trigger.domain import RoomActivity
from coagent_trigger.policies import Firing, FiringOutcome, Policy

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

room_activity = Table(
    "room_activity",
    metadata,
    Column("room_id", String(64), primary_key=True),
    Column("last_message_at", DateTime(timezone=True), nullable=False),
    Column("last_human_message_at", DateTime(timezone=True)),
    Column("message_count", Integer, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
)

trigger_policies = Table(
    "trigger_policies",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("event_type", String(32), nullable=False, index=True),
    Column("conditions", JSONB, nullable=False),
    Column("target_workflow_id", String(64), nullable=False),
    Column("scope_session_id", String(64), index=True),
    Column("is_active", Boolean, nullable=False),
    Column("created_by", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("secret_cipher", Text),
    Column("owner_role", String(32)),
    Column("scope_course_id", String(64), index=True),
)

firings = Table(
    "firings",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("firing_key", String(255), nullable=False, unique=True),
    # Null for a room's fallback firing (``kind`` = ``room_fallback``): no policy fired.
    Column(
        "policy_id",
        String(64),
        ForeignKey("trigger_policies.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    Column("event_type", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("room_id", String(64)),
    Column("source_event_id", String(64)),
    Column("fired_by", String(64)),
    Column("detail", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False, server_default="policy"),
    Index("ix_firings_room_id_kind", "room_id", "kind"),
)

policy_counters = Table(
    "policy_counters",
    metadata,
    Column(
        "policy_id",
        String(64),
        ForeignKey("trigger_policies.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("room_id", String(64), primary_key=True),
    Column("matched", Integer, nullable=False),
)

tracked_runs, buffered_firings = overlap_tables(metadata)
rooms = room_table(metadata)


trigger_clocks = clock_table(metadata)
debounce_bursts = burst_table(metadata)


class PostgresRoomActivityRepository:
    """Row per room; writers of one room are serialised by a transaction-scoped advisory lock."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, room_id: str, *, for_update: bool = False) -> RoomActivity | None:
        if for_update:
            # SELECT ... FOR UPDATE cannot lock a row that does not exist yet, and two first
            # messages of a room would then both insert; the advisory lock covers that case too.
            await self._session.execute(
                select(func.pg_advisory_xact_lock(func.hashtextextended(room_id, 0)))
            )
        row = (
            await self._session.execute(
                select(room_activity).where(room_activity.c.room_id == room_id)
            )
        ).one_or_none()
        return None if row is None else _activity(row)

    async def with_human_messages(self) -> list[RoomActivity]:
        query = select(room_activity).where(room_activity.c.last_human_message_at.is_not(None))
        return [_activity(row) for row in await self._session.execute(query)]

    async def save(self, activity: RoomActivity) -> None:
        values = {
            "last_message_at": activity.last_message_at,
            "last_human_message_at": activity.last_human_message_at,
            "message_count": activity.message_count,
            "last_seq": activity.last_seq,
        }
        await self._session.execute(
            insert(room_activity)
            .values(room_id=activity.room_id, **values)
            .on_conflict_do_update(index_elements=[room_activity.c.room_id], set_=values)
        )


def _activity(row: Any) -> RoomActivity:
    return RoomActivity(
        room_id=row.room_id,
        last_message_at=row.last_message_at,
        last_human_message_at=row.last_human_message_at,
        message_count=row.message_count,
        last_seq=row.last_seq,
    )


def _policy(row: Any) -> Policy:
    return Policy(
        id=row.id,
        name=row.name,
        event_type=row.event_type,
        conditions=row.conditions,
        target_workflow_id=row.target_workflow_id,
        scope_session_id=row.scope_session_id,
        is_active=row.is_active,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        secret_cipher=row.secret_cipher,
        owner_role=row.owner_role,
        scope_course_id=row.scope_course_id,
    )


class PostgresPolicyRepository:
    """One row per policy."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, policy_id: str) -> Policy | None:
        query = select(trigger_policies).where(trigger_policies.c.id == policy_id)
        row = (await self._session.execute(query)).one_or_none()
        return None if row is None else _policy(row)

    async def owned_by(self, created_by: str | None) -> list[Policy]:
        query = select(trigger_policies).order_by(
            trigger_policies.c.created_at.desc(), trigger_policies.c.id.desc()
        )
        if created_by is not None:
            query = query.where(trigger_policies.c.created_by == created_by)
        return [_policy(row) for row in await self._session.execute(query)]

    async def save(self, policy: Policy) -> None:
        values = asdict(policy)
        del values["id"]
        await self._session.execute(
            insert(trigger_policies)
            .values(id=policy.id, **values)
            .on_conflict_do_update(index_elements=[trigger_policies.c.id], set_=values)
        )

    async def delete(self, policy_id: str) -> None:
        await self._session.execute(
            delete(trigger_policies).where(trigger_policies.c.id == policy_id)
        )

    async def active_for_room(
        self, event_type: str, room_id: str, course_id: str | None
    ) -> list[Policy]:
        c = trigger_policies.c
        covering = [
            and_(c.scope_session_id.is_(None), c.scope_course_id.is_(None)),
            c.scope_session_id == room_id,
        ]
        if course_id is not None:
            covering.append(c.scope_course_id == course_id)
        query = select(trigger_policies).where(
            c.is_active.is_(True), c.event_type == event_type, or_(*covering)
        )
        return [_policy(row) for row in await self._session.execute(query)]


class PostgresFiringRepository:
    """The firing log; the unique ``firing_key`` makes a second record of a firing a no-op."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, firing: Firing) -> bool:
        inserted = await self._session.scalar(
            insert(firings)
            .values(**asdict(firing))
            .on_conflict_do_nothing(index_elements=[firings.c.firing_key])
            .returning(firings.c.id)
        )
        return inserted is not None

    async def latest(self, policy_id: str, limit: int) -> list[Firing]:
        query = (
            select(firings)
            .where(firings.c.policy_id == policy_id)
            .order_by(firings.c.created_at.desc(), firings.c.id.desc())
            .limit(limit)
        )
        return [Firing(**row._asdict()) for row in await self._session.execute(query)]

    async def by_key(self, firing_key: str) -> Firing | None:
        query = select(firings).where(firings.c.firing_key == firing_key)
        row = (await self._session.execute(query)).one_or_none()
        return None if row is None else Firing(**row._asdict())

    async def set_outcome(
        self, firing_key: str, outcome: FiringOutcome, detail: dict[str, Any]
    ) -> None:
        await self._session.execute(
            update(firings)
            .where(firings.c.firing_key == firing_key)
            .values(outcome=outcome, detail=detail)
        )


class PostgresCounterRepository:
    """``INSERT … ON CONFLICT DO UPDATE`` takes the row lock, so concurrent matches all count."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def increment(self, policy_id: str, room_id: str) -> int:
        statement = (
            insert(policy_counters)
            .values(policy_id=policy_id, room_id=room_id, matched=1)
            .on_conflict_do_update(
                index_elements=[policy_counters.c.policy_id, policy_counters.c.room_id],
                set_={"matched": policy_counters.c.matched + 1},
            )
            .returning(policy_counters.c.matched)
        )
        value: int = (await self._session.execute(statement)).scalar_one()
        return value


class PostgresUnitOfWork(SqlUnitOfWork):
    """One database transaction; ``on_commit`` wakes the outbox relay."""

    OUTBOX = outbox
    INBOX = inbox

    def bind(self, session: AsyncSession) -> None:
        self.activity = PostgresRoomActivityRepository(session)
        self.policies = PostgresPolicyRepository(session)
        self.rooms = PostgresRoomRepository(session, rooms)
        self.firings = PostgresFiringRepository(session)
        self.counters = PostgresCounterRepository(session)
        self.schedules = OutboxScheduleQueue(session, outbox, self._schedule_queued)
        self.clocks = PostgresClockRepository(session, trigger_clocks)
        self.bursts = PostgresBurstRepository(session, debounce_bursts)
        self.overlap = PostgresOverlapRepository(session, tracked_runs, buffered_firings)

    def _schedule_queued(self) -> None:
        # An armed schedule is an outbox row like an event: the relay must wake on commit.
        self._queued_events = True
