"""PostgreSQL room projection: one row per room, newest gateway event wins."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_trigger.rooms import RoomView


def room_table(metadata: MetaData) -> Table:
    """The ``rooms`` projection table."""
    return Table(
        "rooms",
        metadata,
        Column("room_id", String(64), primary_key=True),
        # Indexed: a course-scoped silence policy arms the rooms of its course.
        Column("course_id", String(64), nullable=False, index=True),
        Column("attached_workflow_id", String(64)),
        Column("attached_by", String(64)),
        Column("deleted", Boolean, nullable=False),
        Column("changed_at", DateTime(timezone=True), nullable=False),
    )


class PostgresRoomRepository:
    """The upsert's ``WHERE`` keeps a newer row: events of a room may arrive out of order."""

    def __init__(self, session: AsyncSession, table: Table) -> None:
        self._session = session
        self._table = table

    async def get(self, room_id: str) -> RoomView | None:
        query = select(self._table).where(self._table.c.room_id == room_id)
        row = (await self._session.execute(query)).one_or_none()
        return None if row is None else _view(row)

    async def ids_in_course(self, course_id: str) -> set[str]:
        c = self._table.c
        query = select(c.room_id).where(c.course_id == course_id, c.deleted.is_(False))
        return set((await self._session.scalars(query)).all())

    async def apply(self, room: RoomView) -> bool:
        values = asdict(room)
        del values["room_id"]
        statement = (
            insert(self._table)
            .values(room_id=room.room_id, **values)
            .on_conflict_do_update(
                index_elements=[self._table.c.room_id],
                set_=values,
                where=self._table.c.changed_at <= room.changed_at,
            )
            .returning(self._table.c.room_id)
        )
        return (await self._session.scalar(statement)) is not None


def _view(row: Any) -> RoomView:
    return RoomView(**row._asdict())
