"""PostgreSQL adapter: the room-activity projection, the outbox and the inbox."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.envelope import Event
from coagent_kit.db import new_metadata
from coagent_kit.outbox import add_event, claim_event, inbox_table, outbox_table
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


class PostgresUnitOfWork:
    """One database transaction; ``on_commit`` wakes the outbox relay."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], on_commit: Callable[[], None]
    ) -> None:
        self._sessions = sessions
        self._on_commit = on_commit

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        await self._session.begin()
        self.activity = PostgresRoomActivityRepository(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._session.close()  # rolls back anything not committed

    async def publish(self, event: Event) -> None:
        await add_event(self._session, outbox, event)

    async def claim(self, consumer: str, event_id: str) -> bool:
        return await claim_event(self._session, inbox, consumer, event_id)

    async def commit(self) -> None:
        await self._session.commit()
        self._on_commit()
