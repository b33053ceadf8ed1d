"""Sequence numbers, idempotent posts, forgetting, activity and pruning on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_chat.adapters.postgres import (
    PostgresUnitOfWork,
    messages,
    outbox,
    room_activity,
    room_sequences,
)
from coagent_chat.domain import (
    Actor,
    IdempotencyConflict,
    NewMessage,
    RetentionPolicy,
)
from coagent_chat.retention import RetentionService
from coagent_chat.service import ChatService
from coagent_contracts.chat import (
    CHAT_EVENTS,
    ChatEvent,
    MessagePostedV1,
    MessagesErasedV1,
    RoomActivityRecordedV1,
)
from coagent_contracts.workflow import AgentMessageProducedV1

pytestmark = pytest.mark.integration

AgentReply = Callable[..., AgentMessageProducedV1]
MODERATOR = Actor("t1", "teacher", "teacher")
NOW = datetime.now(UTC)


@pytest.fixture
def chat(sessions: async_sessionmaker[AsyncSession]) -> ChatService:
    return ChatService(lambda: PostgresUnitOfWork(sessions, lambda: None))


def retention_service(
    sessions: async_sessionmaker[AsyncSession], batch_size: int = 500
) -> RetentionService:
    return RetentionService(
        lambda: PostgresUnitOfWork(sessions, lambda: None), batch_size=batch_size, clock=lambda: NOW
    )


@pytest.fixture
def room() -> str:
    """A room id of this test only: the database is shared by the whole session."""
    return f"room-{uuid.uuid4().hex[:12]}"


def human(
    room_id: str, content: str = "hi", sender: str = "u1", key: str | None = None
) -> NewMessage:
    return NewMessage(
        room_id=room_id, content=content, sender_kind="human", sender_id=sender, client_msg_id=key
    )


async def events_of(sessions: async_sessionmaker[AsyncSession], room_id: str) -> list[ChatEvent]:
    """The room's queued events in outbox order."""
    async with sessions() as session:
        payloads = await session.scalars(
            select(outbox.c.payload)
            .where(outbox.c.subject.like(f"chat.room.{room_id}.%"))
            .order_by(outbox.c.position)
        )
        return [CHAT_EVENTS.validate_json(p) for p in payloads]


async def seqs_of(sessions: async_sessionmaker[AsyncSession], room_id: str) -> list[int]:
    async with sessions() as session:
        found = await session.scalars(
            select(messages.c.seq).where(messages.c.room_id == room_id).order_by(messages.c.seq)
        )
        return list(found)


async def test_eight_concurrent_posters_get_gap_free_unique_seqs(
    chat: ChatService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    async def poster(n: int) -> list[int]:
        return [
            (await chat.post_message(human(room, f"p{n}-{i}", sender=f"u{n}"))).seq
            for i in range(10)
        ]

    results = await asyncio.gather(*(poster(n) for n in range(8)))

    every = sorted(seq for seqs in results for seq in seqs)
    assert every == list(range(1, 81))
    for seqs in results:  # each poster saw its own messages in order
        assert seqs == sorted(seqs)
    assert await seqs_of(sessions, room) == list(range(1, 81))
    events = await events_of(sessions, room)
    posted = [e.data.seq for e in events if isinstance(e, MessagePostedV1)]
    assert posted == list(range(1, 81))  # outbox order is seq order
    activity = [e.data.last_seq for e in events if isinstance(e, RoomActivityRecordedV1)]
    assert activity == list(range(1, 81))


async def test_concurrent_duplicates_store_one_row_and_burn_no_seq(
    chat: ChatService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    await chat.post_message(human(room, "before"))

    results = await asyncio.gather(*(chat.post(human(room, "once", key="k1")) for _ in range(8)))

    assert sum(r.created for r in results) == 1
    assert len({r.message.id for r in results}) == 1
    assert {r.message.seq for r in results} == {2}
    assert (await chat.post_message(human(room, "after"))).seq == 3
    assert await seqs_of(sessions, room) == [1, 2, 3]
    posted = [e for e in await events_of(sessions, room) if isinstance(e, MessagePostedV1)]
    assert [(e.data.seq, e.data.client_msg_id) for e in posted] == [(1, None), (2, "k1"), (3, None)]
    async with sessions() as session:
        last_seq = await session.scalar(
            select(room_sequences.c.last_seq).where(room_sequences.c.room_id == room)
        )
    assert last_seq == 3


async def test_concurrent_different_contents_under_one_key_store_one(
    chat: ChatService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    results = await asyncio.gather(
        *(chat.post(human(room, f"version {i}", key="k1")) for i in range(6)),
        return_exceptions=True,
    )

    stored = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, IdempotencyConflict)]
    assert (len(stored), len(conflicts)) == (1, 5)
    assert await seqs_of(sessions, room) == [1]


async def test_forget_deletes_the_row_and_queues_a_tombstone(
    chat: ChatService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    first = await chat.post_message(human(room, "keep"))
    second = await chat.post_message(human(room, "regret"))

    await chat.forget(room, second.id, Actor("u1", "student", "student"))
    third = await chat.post_message(human(room, "next"))

    assert await seqs_of(sessions, room) == [first.seq, 3]
    assert third.seq == 3  # the erased seq 2 is not reused
    erased = [e for e in await events_of(sessions, room) if isinstance(e, MessagesErasedV1)]
    assert len(erased) == 1
    data = erased[0].data
    assert (data.message_ids, data.seqs, data.reason, data.forgotten_by) == (
        (second.id,),
        (2,),
        "forgotten",
        "u1",
    )
    assert erased[0].subject == f"chat.room.{room}.message.erased.v1"


async def test_activity_row_and_events(
    chat: ChatService,
    sessions: async_sessionmaker[AsyncSession],
    agent_reply: AgentReply,
    room: str,
) -> None:
    first = await chat.post_message(human(room, "hello"))
    reply = await chat.record_agent_message(agent_reply(room, "hi there"))
    assert reply is not None

    async with sessions() as session:
        row = (
            await session.execute(select(room_activity).where(room_activity.c.room_id == room))
        ).one()
    activity = await chat.activity(room)

    assert (row.message_count, row.human_message_count, row.agent_message_count) == (2, 1, 1)
    assert (row.last_seq, row.last_sender_kind) == (2, "agent")
    assert row.last_human_message_at == first.created_at
    assert row.last_agent_message_at == reply.created_at
    assert row.last_message_at == max(first.created_at, reply.created_at)
    assert activity.message_count == 2
    recorded = [e for e in await events_of(sessions, room) if isinstance(e, RoomActivityRecordedV1)]
    assert [(e.data.message_count, e.data.last_sender_kind) for e in recorded] == [
        (1, "human"),
        (2, "agent"),
    ]
    assert recorded[-1].data.last_human_message_at == first.created_at


async def test_an_agent_reply_keeps_its_metadata(
    chat: ChatService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    from coagent_contracts.workflow import AgentMessageProducedData

    # A run id, a node id of the longest allowed kind and a step: what the engine sends.
    long_stream = f"{uuid.uuid4()}.{'n' * 128}.12"
    event = AgentMessageProducedV1(
        producer="workflow-engine",
        data=AgentMessageProducedData(
            run_id="run-42",
            workflow_id="w1",
            workflow_version=1,
            room_id=room,
            agent_id="a7",
            agent_name="Socrates",
            agent_type="teacher",
            offline=True,
            stream_id=long_stream,
            content="Why?",
        ),
    )

    await chat.record_agent_message(event)

    [stored] = await chat.history(room)
    body = stored.body
    assert (body.sender_name, body.agent_type, body.run_id, body.offline, body.stream_id) == (
        "Socrates",
        "teacher",
        "run-42",
        True,
        long_stream,
    )
    [posted] = [e for e in await events_of(sessions, room) if isinstance(e, MessagePostedV1)]
    assert (posted.data.agent_type, posted.data.run_id, posted.data.offline) == (
        "teacher",
        "run-42",
        True,
    )
    assert (posted.data.stream_id, posted.data.sender_name) == (long_stream, "Socrates")


async def backdate(
    sessions: async_sessionmaker[AsyncSession], room_id: str, ages_days: dict[int, float]
) -> None:
    async with sessions.begin() as session:
        for seq, age in ages_days.items():
            await session.execute(
                update(messages)
                .where(messages.c.room_id == room_id, messages.c.seq == seq)
                .values(created_at=NOW - timedelta(days=age))
            )


async def test_one_prune_pass_deletes_by_age_and_by_count(
    chat: ChatService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    aged, counted = f"{room}-age", f"{room}-count"
    for _ in range(5):
        await chat.post_message(human(aged))
    for _ in range(7):
        await chat.post_message(human(counted))
    await backdate(sessions, aged, {1: 10, 2: 5, 3: 3.5, 4: 1})
    retention = retention_service(sessions, batch_size=2)
    await retention.set(aged, RetentionPolicy(max_age_days=3), MODERATOR)
    await retention.set(counted, RetentionPolicy(max_messages=3), MODERATOR)

    report = await retention.prune_once()

    assert (report.get(aged), report.get(counted)) == (3, 4)
    assert await seqs_of(sessions, aged) == [4, 5]
    assert await seqs_of(sessions, counted) == [5, 6, 7]
    for room_id, batches in ((aged, [(1, 2), (3,)]), (counted, [(1, 2), (3, 4)])):
        erased = [e for e in await events_of(sessions, room_id) if isinstance(e, MessagesErasedV1)]
        assert [e.data.seqs for e in erased] == batches
        assert {(e.data.reason, e.data.forgotten_by) for e in erased} == {("retention", None)}
    again = await retention.prune_once()
    assert aged not in again
    assert counted not in again


async def test_two_pruners_at_once_erase_each_message_once(
    chat: ChatService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    rooms = [f"{room}-{i}" for i in range(4)]
    for room_id in rooms:
        for _ in range(30):
            await chat.post_message(human(room_id))
    replica_a, replica_b = retention_service(sessions, 5), retention_service(sessions, 5)
    for room_id in rooms:
        await replica_a.set(room_id, RetentionPolicy(max_messages=4), MODERATOR)

    await asyncio.gather(replica_a.prune_once(), replica_b.prune_once())
    await replica_a.prune_once()  # anything a skipped lock left behind

    for room_id in rooms:
        assert await seqs_of(sessions, room_id) == [27, 28, 29, 30]
        erased = [e for e in await events_of(sessions, room_id) if isinstance(e, MessagesErasedV1)]
        seqs = [s for e in erased for s in e.data.seqs]
        assert sorted(seqs) == list(range(1, 27))  # each exactly once
