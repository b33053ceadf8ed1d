"""PostgreSQL adapter: room history tables, the outbox and the inbox in the chat database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Float,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_chat.domain import (
    HistoryWindow,
    Message,
    NewMessage,
    RetentionPolicy,
    RoomActivity,
    RoomRetention,
)
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
    Column("agent_type", String(64)),
    Column("run_id", String(64)),
    Column("offline", Boolean, nullable=False, server_default=false()),
    # Room of a whole run id, node id (up to 128) and step: see the engine's reply stream ids.
    Column("stream_id", String(255)),
    Column("client_msg_id", String(128)),
    UniqueConstraint("room_id", "seq", name="uq_messages_room_seq"),
    # NULLs are distinct: posts without a key (or without a sender) never conflict.
    UniqueConstraint("room_id", "sender_id", "client_msg_id", name="uq_messages_client_msg_id"),
    Index("ix_messages_room_created", "room_id", "created_at"),
    # Forgetting a user finds everything they wrote, in every room.
    Index("ix_messages_sender", "sender_id"),
)

room_activity = Table(
    "room_activity",
    metadata,
    Column("room_id", String(64), primary_key=True),
    Column("last_message_at", DateTime(timezone=True), nullable=False),
    Column("last_human_message_at", DateTime(timezone=True)),
    Column("last_agent_message_at", DateTime(timezone=True)),
    Column("message_count", BigInteger, nullable=False, server_default="0"),
    Column("human_message_count", BigInteger, nullable=False, server_default="0"),
    Column("agent_message_count", BigInteger, nullable=False, server_default="0"),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_sender_kind", String(16)),
)

room_retention = Table(
    "room_retention",
    metadata,
    Column("room_id", String(64), primary_key=True),
    Column("max_age_days", Float),
    Column("max_messages", Integer),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", String(64)),
)

#: First key of the two-key advisory lock a pruner holds on a room (the second is the room's hash).
RETENTION_LOCK_CLASS = 0x0C0A_7E7


class PostgresMessageRepository:
    """Sequence numbers come from a per-room counter row whose lock serialises posts per room.

    The counter is only advanced when a row is really inserted, so an idempotent retry or a rolled
    back post consumes no number, and erased messages never give theirs back.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, message: NewMessage) -> tuple[Message, bool]:
        last_seq = await self._lock_room(message.room_id)
        if message.client_msg_id is not None:
            existing = await self._by_key(message)
            if existing is not None:
                return existing, False
        seq = last_seq + 1
        row = (
            await self._session.execute(
                insert(messages)
                .values(id=str(uuid.uuid4()), seq=seq, **_columns(message))
                # The lock makes this unreachable for one database; kept so the unique index,
                # not a race, has the last word.
                .on_conflict_do_nothing(constraint="uq_messages_client_msg_id")
                .returning(messages.c.id, messages.c.created_at)
            )
        ).first()
        if row is None:
            existing = await self._by_key(message)
            assert existing is not None, "conflict on the idempotency key without a row"
            return existing, False
        await self._session.execute(
            update(room_sequences)
            .where(room_sequences.c.room_id == message.room_id)
            .values(last_seq=seq)
        )
        return Message(id=row.id, seq=seq, created_at=row.created_at, body=message), True

    async def _lock_room(self, room_id: str) -> int:
        """Lock the room's counter row (creating it at 0) and return the last assigned seq."""
        statement = (
            insert(room_sequences)
            .values(room_id=room_id, last_seq=0)
            .on_conflict_do_update(
                index_elements=[room_sequences.c.room_id],
                set_={"last_seq": room_sequences.c.last_seq},
            )
            .returning(room_sequences.c.last_seq)
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def _by_key(self, message: NewMessage) -> Message | None:
        row = (
            (
                await self._session.execute(
                    select(messages).where(
                        messages.c.room_id == message.room_id,
                        messages.c.sender_id.is_not_distinct_from(message.sender_id),
                        messages.c.client_msg_id == message.client_msg_id,
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _to_message(row)

    async def window(self, room_id: str, window: HistoryWindow) -> list[Message]:
        query = select(messages).where(messages.c.room_id == room_id)
        if window.after is not None:
            query = query.where(messages.c.seq > window.after)
        if window.before is not None:
            query = query.where(messages.c.seq < window.before)
        order = messages.c.seq.desc() if window.newest_first else messages.c.seq
        found = await self._all(query.order_by(order).limit(window.limit))
        return sorted(found, key=lambda m: m.seq)

    async def get(self, room_id: str, message_id: str) -> Message | None:
        found = await self._all(
            select(messages).where(messages.c.room_id == room_id, messages.c.id == message_id)
        )
        return found[0] if found else None

    async def delete(self, room_id: str, message_ids: Sequence[str]) -> list[Message]:
        rows = await self._session.execute(
            messages.delete()
            .where(messages.c.room_id == room_id, messages.c.id.in_(list(message_ids)))
            .returning(*messages.c)
        )
        return sorted((_to_message(r) for r in rows.mappings()), key=lambda m: m.seq)

    async def expired(
        self, room_id: str, policy: RetentionPolicy, now: datetime, limit: int
    ) -> list[Message]:
        conditions: list[ColumnElement[bool]] = []
        cutoff = policy.cutoff(now)
        if cutoff is not None:
            conditions.append(messages.c.created_at < cutoff)
        if policy.max_messages is not None:
            # The seq of the oldest message to keep; NULL (nothing pruned) while the room is small.
            oldest_kept = (
                select(messages.c.seq)
                .where(messages.c.room_id == room_id)
                .order_by(messages.c.seq.desc())
                .offset(policy.max_messages - 1)
                .limit(1)
                .scalar_subquery()
            )
            conditions.append(messages.c.seq < oldest_kept)
        if not conditions:
            return []
        return await self._all(
            select(messages)
            .where(messages.c.room_id == room_id, or_(*conditions))
            .order_by(messages.c.seq)
            .limit(limit)
        )

    async def authored_by(self, sender_id: str, limit: int) -> list[Message]:
        return await self._all(
            select(messages)
            .where(messages.c.sender_id == sender_id, messages.c.sender_kind == "human")
            .order_by(messages.c.room_id, messages.c.seq)
            .limit(limit)
        )

    async def _all(self, query: Select[Any]) -> list[Message]:
        return [_to_message(row) for row in (await self._session.execute(query)).mappings()]


def _columns(message: NewMessage) -> dict[str, Any]:
    return {
        "room_id": message.room_id,
        "sender_kind": message.sender_kind,
        "sender_id": message.sender_id,
        "sender_name": message.sender_name,
        "agent_id": message.agent_id,
        "thread_id": message.thread_id,
        "mentions": list(message.mentions),
        "content": message.content,
        "agent_type": message.agent_type,
        "run_id": message.run_id,
        "offline": message.offline,
        "stream_id": message.stream_id,
        "client_msg_id": message.client_msg_id,
    }


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
            agent_type=r["agent_type"],
            run_id=r["run_id"],
            offline=r["offline"],
            stream_id=r["stream_id"],
            client_msg_id=r["client_msg_id"],
        ),
    )


class PostgresActivityRepository:
    """One counters row per room; writers already hold the room's counter-row lock."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, room_id: str) -> RoomActivity | None:
        row = (
            (
                await self._session.execute(
                    select(room_activity).where(room_activity.c.room_id == room_id)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else RoomActivity(**dict(row))

    async def save(self, activity: RoomActivity) -> None:
        values = vars(activity).copy()
        await self._session.execute(
            insert(room_activity)
            .values(**values)
            .on_conflict_do_update(index_elements=[room_activity.c.room_id], set_=values)
        )


class PostgresRetentionRepository:
    """Room settings, plus the advisory lock that keeps two replicas off the same room."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, room_id: str) -> RoomRetention | None:
        row = (
            await self._session.execute(
                select(room_retention).where(room_retention.c.room_id == room_id)
            )
        ).first()
        if row is None:
            return None
        return RoomRetention(
            room_id=row.room_id,
            policy=RetentionPolicy(max_age_days=row.max_age_days, max_messages=row.max_messages),
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )

    async def save(self, retention: RoomRetention) -> None:
        values = {
            "max_age_days": retention.policy.max_age_days,
            "max_messages": retention.policy.max_messages,
            "updated_at": retention.updated_at,
            "updated_by": retention.updated_by,
        }
        await self._session.execute(
            insert(room_retention)
            .values(room_id=retention.room_id, **values)
            .on_conflict_do_update(index_elements=[room_retention.c.room_id], set_=values)
        )

    async def rooms(self, with_default: bool) -> list[str]:
        if with_default:
            query = select(room_sequences.c.room_id)
        else:
            query = select(room_retention.c.room_id).where(
                or_(
                    room_retention.c.max_age_days.is_not(None),
                    room_retention.c.max_messages.is_not(None),
                )
            )
        return list((await self._session.scalars(query.order_by(query.selected_columns[0]))).all())

    async def try_lock(self, room_id: str) -> bool:
        locked = await self._session.scalar(
            select(func.pg_try_advisory_xact_lock(RETENTION_LOCK_CLASS, func.hashtext(room_id)))
        )
        return bool(locked)


class PostgresUnitOfWork(SqlUnitOfWork):
    """One database transaction; ``on_commit`` wakes the outbox relay."""

    OUTBOX = outbox
    INBOX = inbox

    def bind(self, session: AsyncSession) -> None:
        self.messages = PostgresMessageRepository(session)
        self.activity = PostgresActivityRepository(session)
        self.retention = PostgresRetentionRepository(session)
        self.artifacts = postgres_artifacts.PostgresArtifactRepository(session)


# Last: the artifact tables are defined on ``metadata`` above (migrations compare against it).
from coagent_chat.adapters import postgres_artifacts  # noqa: E402
