"""The Postgres adapter against a real PostgreSQL (the session's embedded server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_chat.adapters.postgres import PostgresUnitOfWork, inbox, messages, outbox
from coagent_chat.domain import NewMessage
from coagent_chat.service import AGENT_REPLIES_CONSUMER, ChatService, message_posted
from coagent_contracts.chat import MessagePostedV1
from coagent_contracts.workflow import AgentMessageProducedV1

pytestmark = pytest.mark.integration

AgentReply = Callable[..., AgentMessageProducedV1]


@pytest.fixture
def commits() -> list[int]:
    """One entry per committed unit of work (what would wake the outbox relay)."""
    return []


@pytest.fixture
def pg_service(sessions: async_sessionmaker[AsyncSession], commits: list[int]) -> ChatService:
    return ChatService(lambda: PostgresUnitOfWork(sessions, lambda: commits.append(1)))


@pytest.fixture
def room() -> str:
    """A room id of this test only: the database is shared by the whole session."""
    return f"room-{uuid.uuid4().hex[:12]}"


def human(room_id: str, content: str = "hi") -> NewMessage:
    return NewMessage(room_id=room_id, content=content, sender_kind="human", sender_id="u1")


async def test_concurrent_posts_get_gapless_unique_seqs(
    pg_service: ChatService, room: str, commits: list[int]
) -> None:
    stored = await asyncio.gather(
        *(pg_service.post_message(human(room, f"m{i}")) for i in range(20))
    )

    assert sorted(m.seq for m in stored) == list(range(1, 21))
    history = await pg_service.history(room, limit=100)
    assert [m.seq for m in history] == list(range(1, 21))
    assert {m.id for m in history} == {m.id for m in stored}
    assert len(commits) == 20


async def test_rooms_are_numbered_independently(pg_service: ChatService, room: str) -> None:
    other = f"{room}-b"
    seqs = [(await pg_service.post_message(human(r))).seq for r in (room, other, room)]

    assert seqs == [1, 1, 2]
    history = await pg_service.history(room, after_seq=1)
    assert [(m.seq, m.body.sender_id) for m in history] == [(2, "u1")]


async def test_the_outbox_row_exists_after_commit(
    pg_service: ChatService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    stored = await pg_service.post_message(human(room, "durable"))

    async with sessions() as session:
        rows = (
            await session.execute(
                select(outbox).where(outbox.c.subject.contains(room)).order_by(outbox.c.position)
            )
        ).all()
    # The message event, then the room's activity caused by it.
    assert [r.subject.rsplit(".", 3)[1:] for r in rows] == [
        ["message", "posted", "v1"],
        ["activity", "recorded", "v1"],
    ]
    row = rows[0]
    event = MessagePostedV1.model_validate_json(row.payload)
    assert row.event_id == event.event_id
    assert row.subject == f"chat.room.{room}.message.posted.v1"
    assert row.headers["Nats-Msg-Id"] == event.msg_id
    assert row.published_at is None
    assert (event.data.message_id, event.data.seq, event.data.content) == (
        stored.id,
        1,
        "durable",
    )


async def test_a_rolled_back_unit_leaves_no_message_no_outbox_row_and_no_seq(
    sessions: async_sessionmaker[AsyncSession], room: str, commits: list[int]
) -> None:
    async def fail_before_commit() -> None:
        async with PostgresUnitOfWork(sessions, lambda: commits.append(1)) as uow:
            stored, _ = await uow.messages.append(human(room, "lost"))
            await uow.publish(message_posted(stored))
            assert await uow.claim(AGENT_REPLIES_CONSUMER, f"ev-{room}")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_before_commit()

    assert commits == []
    async with sessions() as session:
        outbox_rows = await session.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.subject.contains(room))
        )
        message_rows = await session.scalar(
            select(func.count()).select_from(messages).where(messages.c.room_id == room)
        )
    assert (outbox_rows, message_rows) == (0, 0)
    # The sequence counter rolled back too: the next committed message is seq 1.
    async with PostgresUnitOfWork(sessions, lambda: None) as uow:
        assert (await uow.messages.append(human(room)))[0].seq == 1
        assert await uow.claim(AGENT_REPLIES_CONSUMER, f"ev-{room}")


async def test_an_agent_reply_is_stored_once_with_an_inbox_claim(
    pg_service: ChatService,
    sessions: async_sessionmaker[AsyncSession],
    agent_reply: AgentReply,
    room: str,
) -> None:
    event = agent_reply(room, "from the agent")

    assert await pg_service.record_agent_message(event) is not None
    assert await pg_service.record_agent_message(event) is None

    history = await pg_service.history(room)
    assert [(m.seq, m.body.sender_kind, m.body.content) for m in history] == [
        (1, "agent", "from the agent")
    ]
    async with sessions() as session:
        claims = await session.scalar(
            select(func.count()).where(
                inbox.c.consumer == AGENT_REPLIES_CONSUMER, inbox.c.event_id == event.event_id
            )
        )
    assert claims == 1
