"""PostgreSQL room projection: one row per room, newest gateway event wins, deletion is final.

Recording a source takes a shared advisory lock on its room and forgetting the room an exclusive
one (both transaction-scoped): a message recorded while its room is being deleted either commits
first (and is then deleted) or sees the room deleted, never slips in after.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_graphrag_ingest.domain import RoomForgotten, RoomView


def room_table(metadata: MetaData) -> Table:
    """The ``ingest_rooms`` projection table."""
    return Table(
        "ingest_rooms",
        metadata,
        Column("room_id", String(64), primary_key=True),
        Column("course_id", String(64), nullable=False),
        Column("deleted", Boolean, nullable=False),
        Column("changed_at", DateTime(timezone=True), nullable=False),
    )


class PostgresRoomRepository:
    def __init__(
        self,
        session: AsyncSession,
        rooms: Table,
        jobs: Table,
        sources: Table,
        extractions: Table,
    ) -> None:
        self._session = session
        self._rooms = rooms
        self._room_tables = (jobs, sources, extractions)

    async def apply(self, room: RoomView) -> RoomView:
        values = {"course_id": room.course_id, "deleted": room.deleted,
                  "changed_at": room.changed_at}  # fmt: skip
        c = self._rooms.c
        await self._session.execute(
            insert(self._rooms)
            .values(room_id=room.room_id, **values)
            .on_conflict_do_update(
                index_elements=[c.room_id],
                set_=values,
                # Out-of-order and redelivered events cannot roll a room back or revive it.
                where=(c.changed_at <= room.changed_at) & c.deleted.is_(False),
            )
        )
        current = await self.get(room.room_id)
        assert current is not None  # just written, in this transaction
        return current

    async def get(self, room_id: str) -> RoomView | None:
        query = select(self._rooms).where(self._rooms.c.room_id == room_id)
        row = (await self._session.execute(query)).one_or_none()
        return None if row is None else _view(row)

    async def is_deleted(self, room_id: str) -> bool:
        await self._session.execute(
            select(func.pg_advisory_xact_lock_shared(func.hashtextextended(room_id, 0)))
        )
        query = select(self._rooms.c.deleted).where(self._rooms.c.room_id == room_id)
        return bool(await self._session.scalar(query))

    async def forget_state(self, room_id: str) -> RoomForgotten:
        await self._session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(room_id, 0)))
        )
        counts = []
        for table in self._room_tables:
            result = await self._session.execute(delete(table).where(table.c.room_id == room_id))
            counts.append(int(result.rowcount or 0))  # type: ignore[attr-defined]
        return RoomForgotten(*counts)


def _view(row: Any) -> RoomView:
    return RoomView(row.room_id, row.course_id, row.deleted, row.changed_at)
