"""Transactional outbox and inbox against the real PostgreSQL and JetStream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from faststream.nats import NatsBroker
from nats.js.client import JetStreamContext
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coagent_contracts.chat import MessagePostedV1
from coagent_contracts.streams import CHAT
from coagent_kit.broker import create_broker, start_broker
from coagent_kit.db import create_engine, new_metadata, session_factory
from coagent_kit.outbox import (
    PUBLISHED_RETENTION,
    RELAY_LOCK_KEY,
    OutboxRelay,
    add_event,
    claim_event,
    inbox_table,
    outbox_table,
)
from coagent_kit.tracing import setup_tracing
from coagent_kit.unit_of_work import SqlUnitOfWork

pytestmark = pytest.mark.integration

MakePosted = Callable[..., MessagePostedV1]

metadata = new_metadata()
OUTBOX = outbox_table(metadata)
INBOX = inbox_table(metadata)


@pytest.fixture(scope="module")
async def engine(kit_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(kit_database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    async with engine.begin() as conn:
        await conn.execute(text("truncate outbox, processed_events"))
    return session_factory(engine)


@pytest.fixture
async def broker(streams: str) -> AsyncIterator[NatsBroker]:
    broker = create_broker(streams, "kit-tests")
    await start_broker(broker, streams, wait_s=2.0)
    yield broker
    await broker.stop()


async def _stored(js: JetStreamContext, subject: str) -> int:
    info = await js.stream_info(CHAT.name, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def _row(engine: AsyncEngine, table: Table, event_id: str) -> dict[str, object]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(table).where(table.c.event_id == event_id))).one()
    return dict(row._mapping)


async def test_committed_event_is_relayed_with_its_message_id(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    broker: NatsBroker,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    event = make_posted()
    async with sessions() as session, session.begin():
        await add_event(session, OUTBOX, event)
    pending = await _row(engine, OUTBOX, event.event_id)
    assert pending["published_at"] is None
    assert pending["subject"] == event.subject

    relay = OutboxRelay(engine, OUTBOX, broker)
    assert await relay.relay_batch() == 1
    assert await relay.relay_batch() == 0

    stored = await js.get_last_msg(CHAT.name, event.subject)
    assert stored.headers is not None
    assert stored.headers["Nats-Msg-Id"] == event.event_id
    assert stored.headers["Coagent-Event-Type"] == event.type
    assert MessagePostedV1.model_validate_json(stored.data or b"") == event
    published = await _row(engine, OUTBOX, event.event_id)
    assert published["published_at"] is not None
    assert published["attempts"] == 1


async def test_rolled_back_event_is_never_published(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    broker: NatsBroker,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    event = make_posted()

    async def write_then_fail() -> None:
        async with sessions() as session, session.begin():
            await add_event(session, OUTBOX, event)
            raise RuntimeError("state change failed")

    with pytest.raises(RuntimeError, match="state change failed"):
        await write_then_fail()

    assert await OutboxRelay(engine, OUTBOX, broker).relay_batch() == 0
    assert await _stored(js, event.subject) == 0
    async with engine.connect() as conn:
        assert (await conn.execute(select(OUTBOX.c.event_id))).all() == []


async def test_relay_after_a_crash_before_marking_does_not_duplicate(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    broker: NatsBroker,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    event = make_posted()
    async with sessions() as session, session.begin():
        await add_event(session, OUTBOX, event)
    relay = OutboxRelay(engine, OUTBOX, broker)
    assert await relay.relay_batch() == 1
    # The relay published and then died before its update committed: the row is pending again.
    async with engine.begin() as conn:
        await conn.execute(
            update(OUTBOX).where(OUTBOX.c.event_id == event.event_id).values(published_at=None)
        )
    assert await relay.relay_batch() == 1
    assert await _stored(js, event.subject) == 1
    assert (await _row(engine, OUTBOX, event.event_id))["attempts"] == 2


async def test_events_of_one_transaction_are_published_in_order(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    broker: NatsBroker,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    first = make_posted(content="first")
    events = [first] + [make_posted(room_id=first.data.room_id, content=f"#{i}") for i in range(4)]
    async with sessions() as session, session.begin():
        for event in events:
            await add_event(session, OUTBOX, event)
    assert await OutboxRelay(engine, OUTBOX, broker).relay_batch(limit=2) == 2
    assert await OutboxRelay(engine, OUTBOX, broker).relay_batch() == 3

    sub = await js.subscribe(first.subject, ordered_consumer=True)
    try:
        received = [(await sub.next_msg(timeout=5)).headers or {} for _ in events]
    finally:
        await sub.unsubscribe()
    assert [h["Nats-Msg-Id"] for h in received] == [e.event_id for e in events]


async def test_events_are_published_in_insertion_order_not_transaction_start(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    broker: NatsBroker,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    # The earlier transaction writes its event last: insertion (and commit) order wins.
    late = make_posted(content="begun first, written second")
    early = make_posted(room_id=late.data.room_id, content="begun second, written first")
    async with sessions() as slow, slow.begin():
        await slow.execute(text("select 1"))  # fixes this transaction's now()
        await asyncio.sleep(0.01)
        async with sessions() as quick, quick.begin():
            await add_event(quick, OUTBOX, early)
        await add_event(slow, OUTBOX, late)
    assert await OutboxRelay(engine, OUTBOX, broker).relay_batch() == 2

    sub = await js.subscribe(late.subject, ordered_consumer=True)
    try:
        received = [(await sub.next_msg(timeout=5)).headers or {} for _ in range(2)]
    finally:
        await sub.unsubscribe()
    assert [h["Nats-Msg-Id"] for h in received] == [early.event_id, late.event_id]


async def test_only_one_relay_publishes_at_a_time(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    broker: NatsBroker,
    make_posted: MakePosted,
) -> None:
    async with sessions() as session, session.begin():
        await add_event(session, OUTBOX, make_posted())
    relay = OutboxRelay(engine, OUTBOX, broker)
    async with engine.begin() as other_replica:
        await other_replica.execute(select(func.pg_advisory_xact_lock(RELAY_LOCK_KEY)))
        assert await relay.relay_batch() == 0
    assert await relay.relay_batch() == 1


async def test_background_relay_publishes_after_wake(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    broker: NatsBroker,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    relay = OutboxRelay(engine, OUTBOX, broker, poll_s=30.0)
    relay.start()
    try:
        await asyncio.sleep(0.05)  # let the first pass find nothing and wait
        event = make_posted()
        async with sessions() as session, session.begin():
            await add_event(session, OUTBOX, event)
        relay.wake()
        deadline = time.monotonic() + 5
        while await _stored(js, event.subject) == 0:
            assert time.monotonic() < deadline, "the woken relay did not publish"
            await asyncio.sleep(0.05)
    finally:
        await relay.stop()
    assert (await _row(engine, OUTBOX, event.event_id))["published_at"] is not None


async def test_background_relay_purges_old_published_rows(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    broker: NatsBroker,
    make_posted: MakePosted,
) -> None:
    old, recent, pending = make_posted(), make_posted(), make_posted()
    async with sessions() as session, session.begin():
        for event in (old, recent, pending):
            await add_event(session, OUTBOX, event)
    async with engine.begin() as conn:
        for event, age in ((old, PUBLISHED_RETENTION * 2), (recent, timedelta(minutes=5))):
            await conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.event_id == event.event_id)
                .values(published_at=datetime.now(UTC) - age)
            )
    relay = OutboxRelay(engine, OUTBOX, broker, poll_s=30.0)
    relay.start()
    try:
        deadline = time.monotonic() + 5
        while True:
            async with engine.connect() as conn:
                ids = set((await conn.execute(select(OUTBOX.c.event_id))).scalars())
            if old.event_id not in ids:
                break
            assert time.monotonic() < deadline, "old published rows were not purged"
            await asyncio.sleep(0.05)
    finally:
        await relay.stop()
    assert ids == {recent.event_id, pending.event_id}
    assert (await _row(engine, OUTBOX, pending.event_id))["published_at"] is not None


async def test_claim_event_is_true_once_per_consumer(
    sessions: async_sessionmaker[AsyncSession], make_posted: MakePosted
) -> None:
    event_id = make_posted().event_id
    async with sessions() as session, session.begin():
        assert await claim_event(session, INBOX, "projector", event_id) is True
    async with sessions() as session, session.begin():
        assert await claim_event(session, INBOX, "projector", event_id) is False
        assert await claim_event(session, INBOX, "mailer", event_id) is True


async def test_claim_in_a_rolled_back_transaction_does_not_count(
    sessions: async_sessionmaker[AsyncSession], make_posted: MakePosted
) -> None:
    event_id = make_posted().event_id
    async with sessions() as session, session.begin():
        assert await claim_event(session, INBOX, "projector", event_id) is True
        await session.rollback()
    async with sessions() as session, session.begin():
        assert await claim_event(session, INBOX, "projector", event_id) is True


async def test_relay_publish_joins_the_trace_of_the_writer(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    streams: str,
    js: JetStreamContext,
    make_posted: MakePosted,
) -> None:
    # Process-wide and installed once: whether this call or an earlier test created the
    # provider, the returned one records our spans and now also exports them here.
    exporter = InMemorySpanExporter()
    provider = setup_tracing("kit-tests", exporter=exporter)
    tracer = provider.get_tracer("kit-tests")
    broker = create_broker(streams, "kit-tests")
    await start_broker(broker, streams, wait_s=2.0)
    event = make_posted()
    sub = await js.subscribe(event.subject, ordered_consumer=True)
    try:
        with tracer.start_as_current_span("post-message") as span:
            async with sessions() as session, session.begin():
                await add_event(session, OUTBOX, event)
        writer = span.get_span_context()
        trace_id = format(writer.trace_id, "032x")

        row_headers = (await _row(engine, OUTBOX, event.event_id))["headers"]
        assert isinstance(row_headers, dict)
        assert row_headers["traceparent"].split("-")[1] == trace_id

        # The relay runs later, outside the request's span.
        assert await OutboxRelay(engine, OUTBOX, broker).relay_batch() == 1
        msg = await sub.next_msg(timeout=5)
    finally:
        await sub.unsubscribe()
        await broker.stop()

    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == event.event_id
    _, header_trace, header_span, _ = msg.headers["traceparent"].split("-")
    assert header_trace == trace_id
    # The publish span is a new span of the same trace, child of the writer's span.
    assert header_span != format(writer.span_id, "016x")
    provider.force_flush()
    children = [
        s
        for s in exporter.get_finished_spans()
        if s.parent is not None and s.parent.span_id == writer.span_id and s.name != span.name
    ]
    assert children, "the relay's publish span was not recorded under the writer's span"
    assert all(format(s.context.trace_id, "032x") == trace_id for s in children)


async def test_stop_ends_the_relay_even_mid_publish(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    broker: NatsBroker,
    make_posted: MakePosted,
) -> None:
    """Stopping while rows are being published returns promptly, every time."""
    for attempt in range(10):
        async with sessions() as session, session.begin():
            for _ in range(30):
                await add_event(session, OUTBOX, make_posted())
        relay = OutboxRelay(engine, OUTBOX, broker, poll_s=30.0)
        relay.start()
        await asyncio.sleep(0.002 * attempt)  # land the stop at different points of a batch
        started = time.monotonic()
        await asyncio.wait_for(relay.stop(), timeout=5)
        assert time.monotonic() - started < 5


class KitUnitOfWork(SqlUnitOfWork):
    OUTBOX = OUTBOX
    INBOX = INBOX


async def test_only_commits_that_queued_events_wake_the_relay(
    sessions: async_sessionmaker[AsyncSession], make_posted: MakePosted
) -> None:
    wakes: list[int] = []
    async with KitUnitOfWork(sessions, lambda: wakes.append(1)) as uow:
        await uow.claim("projector", make_posted().event_id)
        await uow.commit()
    assert wakes == []
    async with KitUnitOfWork(sessions, lambda: wakes.append(1)) as uow:
        await uow.publish(make_posted())
        await uow.commit()
        await uow.commit()  # nothing new queued since the first commit
    assert wakes == [1]
