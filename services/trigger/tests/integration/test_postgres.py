"""The Postgres adapter against a real PostgreSQL (the session's embedded server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.chat import MessagePostedV1
from coagent_contracts.trigger import TriggerFiredData, TriggerFiredV1, firing_key
from coagent_trigger.adapters.postgres import (
    PostgresUnitOfWork,
    firings,
    inbox,
    outbox,
    policy_counters,
)
from coagent_trigger.domain import MessageSeen, RoomActivity
from coagent_trigger.policies import Caller
from coagent_trigger.policy_service import PolicyDraft, PolicyService
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.service import ROOM_ACTIVITY_CONSUMER, TriggerService

pytestmark = pytest.mark.integration

Posted = Callable[..., MessagePostedV1]


@pytest.fixture
def commits() -> list[int]:
    """One entry per commit that queued events (what wakes the outbox relay)."""
    return []


@pytest.fixture
def pg_service(sessions: async_sessionmaker[AsyncSession], commits: list[int]) -> TriggerService:
    return TriggerService(lambda: PostgresUnitOfWork(sessions, lambda: commits.append(1)))


@pytest.fixture
def room() -> str:
    """A room id of this test only: the database is shared by the whole session."""
    return f"room-{uuid.uuid4().hex[:12]}"


async def test_messages_build_a_durable_projection(
    pg_service: TriggerService, posted: Posted, room: str, commits: list[int]
) -> None:
    first, reply = posted(1, "human", room), posted(2, "agent", room)
    await pg_service.record_message(first)
    await pg_service.record_message(reply)

    activity = await pg_service.room_activity(room)

    assert activity == RoomActivity(
        room_id=room,
        last_message_at=reply.data.created_at,
        last_human_message_at=first.data.created_at,
        message_count=2,
        last_seq=2,
    )
    assert commits == []  # the projection publishes nothing, so the relay is never woken


async def test_redelivery_is_absorbed_by_the_inbox(
    pg_service: TriggerService,
    sessions: async_sessionmaker[AsyncSession],
    posted: Posted,
    room: str,
) -> None:
    event = posted(1, "human", room)
    assert await pg_service.record_message(event) is not None
    assert await pg_service.record_message(event) is None

    assert (await pg_service.room_activity(room)).message_count == 1
    async with sessions() as session:
        claims = await session.scalar(
            select(func.count()).where(
                inbox.c.consumer == ROOM_ACTIVITY_CONSUMER, inbox.c.event_id == event.event_id
            )
        )
    assert claims == 1


async def test_an_older_seq_arriving_late_keeps_the_newer_timestamps(
    pg_service: TriggerService, posted: Posted, room: str
) -> None:
    newer = posted(5, "agent", room)
    await pg_service.record_message(newer)
    await pg_service.record_message(posted(3, "agent", room))

    activity = await pg_service.room_activity(room)
    assert (activity.message_count, activity.last_seq) == (2, 5)
    assert activity.last_message_at == newer.data.created_at
    assert activity.last_human_message_at is None


async def test_concurrent_first_messages_of_a_room_are_all_counted(
    pg_service: TriggerService, posted: Posted, room: str
) -> None:
    # Without the per-room lock, both transactions would see no row and one count would be lost.
    events = [posted(seq, "human", room) for seq in range(1, 9)]
    await asyncio.gather(*(pg_service.record_message(e) for e in events))

    activity = await pg_service.room_activity(room)
    assert (activity.message_count, activity.last_seq) == (8, 8)
    assert activity.last_message_at == events[-1].data.created_at


async def test_a_failed_unit_of_work_leaves_no_trace(
    sessions: async_sessionmaker[AsyncSession], posted: Posted, room: str, commits: list[int]
) -> None:
    event = posted(1, "human", room)

    async def fail_before_commit() -> None:
        async with PostgresUnitOfWork(sessions, lambda: commits.append(1)) as uow:
            assert await uow.claim(ROOM_ACTIVITY_CONSUMER, event.event_id)
            await uow.activity.save(RoomActivity.first(_seen(event)))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_before_commit()

    async with PostgresUnitOfWork(sessions, lambda: None) as uow:
        assert await uow.activity.get(room) is None
        assert await uow.claim(ROOM_ACTIVITY_CONSUMER, event.event_id)
    assert commits == []


async def test_published_events_land_in_the_outbox_on_commit(
    sessions: async_sessionmaker[AsyncSession], posted: Posted, room: str
) -> None:
    source = posted(1, "human", room)
    event = TriggerFiredV1(
        producer="trigger",
        data=TriggerFiredData(
            policy_id="p1",
            workflow_id="w1",
            room_id=room,
            event_type="user_message",
            firing_key=firing_key("p1", source_event_id=source.event_id),
            source_event_id=source.event_id,
        ),
    )
    async with PostgresUnitOfWork(sessions, lambda: None) as uow:
        await uow.publish(event)
        await uow.commit()

    async with sessions() as session:
        query = select(outbox).where(outbox.c.event_id == event.event_id)
        row = (await session.execute(query)).one()
    assert row.subject == event.subject
    assert row.headers["Nats-Msg-Id"] == event.msg_id == event.data.firing_key
    assert row.published_at is None
    assert TriggerFiredV1.model_validate_json(row.payload) == event


def _seen(event: MessagePostedV1) -> MessageSeen:
    d = event.data
    return MessageSeen(d.room_id, d.seq, d.sender_kind, d.created_at)


@pytest.fixture
def pg_policies(sessions: async_sessionmaker[AsyncSession]) -> PolicyService:
    return PolicyService(lambda: PostgresUnitOfWork(sessions, lambda: None), SecretBox("k"))


async def test_a_message_fires_one_logged_and_outboxed_firing_even_if_handled_twice(
    pg_policies: PolicyService,
    sessions: async_sessionmaker[AsyncSession],
    posted: Posted,
    room: str,
) -> None:
    owner = Caller("u-pg", "teacher")
    draft = PolicyDraft("pg", "user_message", {"keyword": "go"}, "wf-pg", room, True)
    policy = (await pg_policies.create(owner, draft)).policy
    message = posted(1, "human", room, content="ready, go!")

    first, second = await asyncio.gather(
        pg_policies.on_message(message), pg_policies.on_message(message)
    )
    await pg_policies.on_message(posted(2, "human", room, content="stop"))

    assert len(first) + len(second) == 1
    key = firing_key(policy.id, source_event_id=message.event_id)
    async with sessions() as session:
        logged = (
            await session.execute(select(firings).where(firings.c.policy_id == policy.id))
        ).all()
        queued = (
            await session.execute(select(outbox).where(outbox.c.subject.contains(policy.id)))
        ).all()
    assert [row.firing_key for row in logged] == [key]
    assert [row.headers["Nats-Msg-Id"] for row in queued] == [key]
    assert [f.firing_key for f in await pg_policies.firings(owner, policy.id, 10)] == [key]


async def test_deleting_a_policy_removes_its_log_and_counters(
    pg_policies: PolicyService,
    sessions: async_sessionmaker[AsyncSession],
    posted: Posted,
    room: str,
) -> None:
    owner = Caller("u-pg", "teacher")
    draft = PolicyDraft("pg", "user_message", {"message_count": 1}, "wf-pg", room, True)
    policy = (await pg_policies.create(owner, draft)).policy
    await pg_policies.on_message(posted(1, "human", room))
    updated = await pg_policies.update(owner, policy.id, {"scope_session_id": None})
    assert updated.policy.scope_session_id is None
    assert (await pg_policies.get(owner, policy.id)).scope_session_id is None

    await pg_policies.delete(owner, policy.id)

    async with sessions() as session:
        left = await session.scalar(
            select(func.count()).select_from(firings).where(firings.c.policy_id == policy.id)
        )
        counters = await session.scalar(
            select(func.count())
            .select_from(policy_counters)
            .where(policy_counters.c.policy_id == policy.id)
        )
    assert (left, counters) == (0, 0)
