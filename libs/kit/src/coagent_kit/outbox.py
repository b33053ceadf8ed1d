"""Transactional outbox and inbox.

A state change and its event commit in one transaction (the outbox row); a relay publishes rows to
JetStream with ``Nats-Msg-Id`` = event id, so a relay that crashes after publishing and before
marking the row only causes a duplicate that JetStream drops. The inbox records which events a
consumer already applied, in the same transaction as the effect, so redeliveries are no-ops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta

from faststream.nats import NatsBroker
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from coagent_contracts.envelope import Event
from coagent_contracts.streams import stream_for_subject
from coagent_kit.broker import event_headers
from coagent_kit.logging import get_logger
from coagent_kit.tracing import attached_context, inject_headers

log = get_logger(__name__)

#: Published rows are kept this long for inspection, then deleted.
PUBLISHED_RETENTION = timedelta(days=1)
#: Advisory lock key held by the one relay (of all replicas) that publishes at a time.
RELAY_LOCK_KEY = 0x0C0A_6E17
#: Old published rows are purged at most this often. Purging after every pass cost a
#: transaction per committed unit of work for rows that only expire after a day.
PURGE_INTERVAL_S = 60.0
#: Rows fetched (and published) per relay transaction.
RELAY_BATCH = 100


def outbox_table(metadata: MetaData) -> Table:
    """The ``outbox`` table in a service's own database."""
    return Table(
        "outbox",
        metadata,
        Column("event_id", String(64), primary_key=True),
        # Insertion order. Not ``created_at``: that is the transaction's start time, so a
        # transaction that began earlier but committed later would be published first.
        Column("position", BigInteger, Identity(), nullable=False, index=True),
        Column("subject", String(255), nullable=False),
        Column("payload", Text, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True, index=True),
        Column("attempts", Integer, nullable=False, server_default="0"),
    )


def inbox_table(metadata: MetaData) -> Table:
    """The ``processed_events`` table: (consumer, event id) pairs already applied."""
    return Table(
        "processed_events",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def add_event(session: AsyncSession, outbox: Table, event: Event) -> None:
    """Queue ``event`` in the caller's transaction, with the current trace context."""
    await session.execute(
        outbox.insert().values(
            event_id=event.event_id,
            subject=event.subject,
            payload=event.model_dump_json(),
            headers=inject_headers(event_headers(event)),
        )
    )


async def claim_event(session: AsyncSession, inbox: Table, consumer: str, event_id: str) -> bool:
    """True the first time ``consumer`` sees ``event_id`` in a committed transaction."""
    result = await session.execute(
        insert(inbox)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )
    return result.first() is not None


class OutboxRelay:
    """Publishes committed outbox rows in order; woken after each commit, polling as a fallback."""

    def __init__(
        self, engine: AsyncEngine, outbox: Table, broker: NatsBroker, poll_s: float = 1.0
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._broker = broker
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._next_purge = 0.0  # monotonic time of the next purge: the first pass purges

    def wake(self) -> None:
        """Ask for a relay pass now (call after committing an event)."""
        self._wake.set()

    def start(self) -> None:
        """Run the relay loop in the background."""
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop the loop; unpublished rows stay for the next start.

        The loop is asked to stop and cancelled until it has ended: on Python 3.11 a single
        cancel can be swallowed by ``asyncio.wait_for`` inside nats-py's publish when the
        acknowledgement arrives in the same loop iteration.
        """
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        while not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=0.5)
        self._task = None

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                # A short batch means nothing else was pending when it was read; what commits
                # later sets ``_wake`` again, so the next pass finds it without an empty query.
                while not self._stopping and await self.relay_batch(RELAY_BATCH) == RELAY_BATCH:
                    pass
                if time.monotonic() >= self._next_purge:
                    await self._purge_published()
                    self._next_purge = time.monotonic() + PURGE_INTERVAL_S
            except Exception:
                log.exception("outbox_relay_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()

    async def relay_batch(self, limit: int = RELAY_BATCH) -> int:
        """Publish up to ``limit`` pending rows; returns how many were published."""
        table = self._outbox
        async with self._engine.begin() as conn:
            # One publisher per database: two replicas relaying disjoint batches at once would
            # interleave them on the stream and break the per-room order consumers rely on.
            locked = await conn.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY)))
            if not locked:
                return 0
            rows = (
                await conn.execute(
                    select(table.c.event_id, table.c.subject, table.c.payload, table.c.headers)
                    .where(table.c.published_at.is_(None))
                    .order_by(table.c.position)
                    .limit(limit)
                )
            ).all()
            if not rows:
                return 0
            # Published one at a time, in order: each acknowledgement is awaited before the next
            # row goes out, so the stream keeps the outbox order.
            for _, subject, payload, headers in rows:
                await self._publish(subject, payload, headers)
            # Marked with one statement, in the same transaction (a failed publish rolls the
            # whole batch back, as before: republished rows are dropped by ``Nats-Msg-Id``).
            await conn.execute(
                update(table)
                .where(table.c.event_id.in_([row.event_id for row in rows]))
                .values(published_at=func.now(), attempts=table.c.attempts + 1)
            )
        return len(rows)

    async def _publish(self, subject: str, payload: str, headers: dict[str, str]) -> None:
        with attached_context(headers):
            await self._broker.publish(
                payload.encode(),
                subject,
                headers={
                    k: v for k, v in headers.items() if k not in ("traceparent", "tracestate")
                },
                stream=stream_for_subject(subject).name,
            )

    async def _purge_published(self) -> None:
        cutoff = datetime.now(UTC) - PUBLISHED_RETENTION
        async with self._engine.begin() as conn:
            await conn.execute(delete(self._outbox).where(self._outbox.c.published_at < cutoff))
