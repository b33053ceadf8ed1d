"""PostgreSQL: ``agent_threads`` and ``thread_messages`` (migration 0007)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_workflow_engine.adapters.postgres import metadata
from coagent_workflow_engine.threads.domain import Thread, ThreadMessage

_ID = String(64)

agent_threads = Table(
    "agent_threads",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("user_id", _ID, nullable=False),
    Column("agent_id", _ID, nullable=False),
    Column("project_id", _ID),
    Column("name", String(200), nullable=False),
    Column("metadata_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_agent_threads_user_id_updated_at", "user_id", "updated_at"),
)

thread_messages = Table(
    "thread_messages",
    metadata,
    Column("id", _ID, primary_key=True),
    Column(
        "thread_id",
        _ID,
        ForeignKey("agent_threads.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("metadata_json", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_thread_messages_thread_id_created_at", "thread_id", "created_at", "id"),
)


def _values(table: Table, item: Any) -> dict[str, Any]:
    return {c.name: getattr(item, c.name) for c in table.c}


class PostgresThreadStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_thread(self, thread: Thread) -> None:
        async with self._sessions.begin() as session:
            await session.execute(agent_threads.insert().values(**_values(agent_threads, thread)))

    async def thread(self, thread_id: str) -> Thread | None:
        statement = select(agent_threads).where(agent_threads.c.id == thread_id)
        async with self._sessions() as session:
            row = (await session.execute(statement)).mappings().first()
        return None if row is None else Thread(**row)

    async def threads_of(self, user_id: str, limit: int) -> list[Thread]:
        statement = (
            select(agent_threads)
            .where(agent_threads.c.user_id == user_id)
            .order_by(agent_threads.c.updated_at.desc(), agent_threads.c.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(statement)).mappings().all()
        return [Thread(**row) for row in rows]

    async def messages(self, thread_id: str, limit: int) -> list[ThreadMessage]:
        m = thread_messages.c
        statement = (
            select(thread_messages)
            .where(m.thread_id == thread_id)
            .order_by(m.created_at.desc(), m.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(statement)).mappings().all()
        return [ThreadMessage(**row) for row in reversed(rows)]

    async def count(self, thread_id: str) -> int:
        statement = select(func.count()).where(thread_messages.c.thread_id == thread_id)
        async with self._sessions() as session:
            return int((await session.execute(statement)).scalar_one())

    async def add_turn(
        self, thread: Thread, question: ThreadMessage, answer: ThreadMessage
    ) -> None:
        rows = [_values(thread_messages, question), _values(thread_messages, answer)]
        touch = (
            update(agent_threads)
            .where(agent_threads.c.id == thread.id)
            .values(updated_at=answer.created_at)
        )
        async with self._sessions.begin() as session:
            await session.execute(thread_messages.insert(), rows)
            await session.execute(touch)
