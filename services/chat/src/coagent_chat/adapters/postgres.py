"""PostgreSQL adapter: room history tables, the outbox and the inbox in the chat database."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_chat.domain import Message, NewMessage
from coagent_kit.db import new_metadata
from coagent_kit.outbox import inbox_table, outbox_table
from coagent_kit.unit_of_work import SqlUnitOfWork

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

room_sequences = Table(
    "room_sequences",
    metadata,
    Column("room_id", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("room_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("sender_kind", String(16), nullable=False),
    Column("sender_id", String(64)),
    Column("sender_name", String(255)),
    Column("agent_id", String(64)),
    Column("thread_id", String(64)),
    Column("mentions", ARRAY(String(64)), nullable=False, server_default="{}"),
    Column("content", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("room_id", "seq", name="uq_messages_room_seq"),
)


class PostgresMessageRepository:
    """Sequence numbers come from a per-room counter row, so concurrent posts serialise per room."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, message: NewMessage) -> Message:
        seq = await self._next_seq(message.room_id)
        row = (
            await self._session.execute(
                messages.insert()
                .values(
                    id=str(uuid.uuid4()),
                    room_id=message.room_id,
                    seq=seq,
                    sender_kind=message.sender_kind,
                    sender_id=message.sender_id,
                    sender_name=message.sender_name,
                    agent_id=message.agent_id,
                    thread_id=message.thread_id,
                    mentions=list(message.mentions),
                    content=message.content,
                )
                .returning(messages.c.id, messages.c.created_at)
            )
        ).one()
        return Message(id=row.id, seq=seq, created_at=row.created_at, body=message)

    async def _next_seq(self, room_id: str) -> int:
        statement = (
            insert(room_sequences)
            .values(room_id=room_id, last_seq=1)
            .on_conflict_do_update(
                index_elements=[room_sequences.c.room_id],
                set_={"last_seq": room_sequences.c.last_seq + 1},
            )
            .returning(room_sequences.c.last_seq)
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def list_after(self, room_id: str, after_seq: int, limit: int) -> list[Message]:
        rows = await self._session.execute(
            select(messages)
            .where(messages.c.room_id == room_id, messages.c.seq > after_seq)
            .order_by(messages.c.seq)
            .limit(limit)
        )
        return [_to_message(row) for row in rows.mappings()]


def _to_message(row: object) -> Message:
    r = dict(row)  # type: ignore[call-overload]
    return Message(
        id=r["id"],
        seq=r["seq"],
        created_at=r["created_at"],
        body=NewMessage(
            room_id=r["room_id"],
            content=r["content"],
            sender_kind=r["sender_kind"],
            sender_id=r["sender_id"],
            sender_name=r["sender_name"],
            agent_id=r["agent_id"],
            thread_id=r["thread_id"],
            mentions=tuple(r["mentions"] or ()),
        ),
    )


class PostgresUnitOfWork(SqlUnitOfWork):
    """One database transaction; ``on_commit`` wakes the outbox relay."""

    OUTBOX = outbox
    INBOX = inbox

    def bind(self, session: AsyncSession) -> None:
        self.messages = PostgresMessageRepository(session)
