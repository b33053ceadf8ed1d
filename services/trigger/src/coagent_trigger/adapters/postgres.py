"""PostgreSQL adapter: the room-activity projection, the outbox and the inbox."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_kit.db import new_metadata
from coagent_kit.outbox import inbox_table, outbox_table
from coagent_kit.unit_of_work import SqlUnitOfWork
from coagent_trigger.domain import RoomActivity

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
        if row is None:
            return None
        return RoomActivity(
            room_id=row.room_id,
            last_message_at=row.last_message_at,
            last_human_message_at=row.last_human_message_at,
            message_count=row.message_count,
            last_seq=row.last_seq,
        )

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


class PostgresUnitOfWork(SqlUnitOfWork):
    """One database transaction; ``on_commit`` wakes the outbox relay."""

    OUTBOX = outbox
    INBOX = inbox

    def bind(self, session: AsyncSession) -> None:
        self.activity = PostgresRoomActivityRepository(session)
