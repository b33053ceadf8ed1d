"""Forgetting a user erases their messages in every room, in batches, with one tombstone per
room and batch; reruns finish what a crash left and never announce a message twice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from coagent_chat.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_chat.consumers import register_consumers
from coagent_chat.domain import NewMessage
from coagent_chat.forgetting import UserEraser
from coagent_chat.service import ChatService
from coagent_contracts.chat import MessagesErasedV1
from coagent_contracts.gateway import UserForgottenData, UserForgottenV1
from coagent_kit.broker import create_broker, publish_event

GONE, KEPT = "user-gone", "user-kept"


def forgotten(user_id: str = GONE) -> UserForgottenV1:
    return UserForgottenV1(
        producer="gateway", data=UserForgottenData(user_id=user_id, forgotten_by="admin-1")
    )


async def _post(service: ChatService, room: str, sender: str, text: str) -> None:
    await service.post(NewMessage(room, text, "human", sender_id=sender, sender_name=sender))


async def _seed(service: ChatService) -> None:
    """Room a: 3 of GONE's and 1 of KEPT's; room b: 2 of GONE's, 1 of KEPT's, one agent reply
    whose sender id happens to equal GONE's (only human messages are the user's)."""
    for i in range(3):
        await _post(service, "a", GONE, f"a-gone-{i}")
    await _post(service, "a", KEPT, "a-kept")
    await _post(service, "b", GONE, "b-gone-0")
    await _post(service, "b", KEPT, "b-kept")
    await _post(service, "b", GONE, "b-gone-1")
    await service.post(NewMessage("b", "agent", "agent", sender_id=GONE, agent_id=GONE))


def _contents(store: MemoryStore) -> dict[str, list[str]]:
    return {room: [m.body.content for m in msgs] for room, msgs in store.messages.items()}


def _tombstones(store: MemoryStore) -> list[MessagesErasedV1]:
    return [e for e in store.published if isinstance(e, MessagesErasedV1)]


@pytest.fixture
async def seeded(store: MemoryStore, service: ChatService) -> MemoryStore:
    await _seed(service)
    store.published.clear()
    return store


async def test_only_the_users_messages_go_one_tombstone_per_room_and_batch(
    seeded: MemoryStore,
) -> None:
    event = forgotten()
    erased = await UserEraser(lambda: MemoryUnitOfWork(seeded), batch_size=2).erase(event)

    assert erased == 5
    assert _contents(seeded) == {"a": ["a-kept"], "b": ["b-kept", "agent"]}
    stones = _tombstones(seeded)
    # Batches of two, by room then seq (seqs are per room): a[1,2] | a[3], b[1] | b[3].
    assert [(t.data.room_id, t.data.seqs) for t in stones] == [
        ("a", (1, 2)),
        ("a", (3,)),
        ("b", (1,)),
        ("b", (3,)),
    ]
    assert all(t.data.reason == "forgotten" for t in stones)
    assert all(t.data.forgotten_by == "admin-1" for t in stones)
    assert all(t.causation_id == event.event_id for t in stones)


async def test_a_redelivery_erases_nothing_more(seeded: MemoryStore) -> None:
    eraser = UserEraser(lambda: MemoryUnitOfWork(seeded))
    event = forgotten()
    assert await eraser.erase(event) == 5
    published = len(seeded.published)

    assert await eraser.erase(event) == 0
    assert len(seeded.published) == published


class CrashingUnitOfWork(MemoryUnitOfWork):
    """Fails to commit once the budget of commits is spent (the process died mid-way)."""

    commits_left = 1

    async def commit(self) -> None:
        if CrashingUnitOfWork.commits_left == 0:
            raise ConnectionError("database went away")
        CrashingUnitOfWork.commits_left -= 1
        await super().commit()


async def test_a_rerun_after_a_crash_finishes_the_rest_announcing_each_once(
    seeded: MemoryStore,
) -> None:
    event = forgotten()
    CrashingUnitOfWork.commits_left = 1
    with pytest.raises(ConnectionError):
        await UserEraser(lambda: CrashingUnitOfWork(seeded), batch_size=2).erase(event)
    assert len(_tombstones(seeded)) == 1  # the first batch committed, the second rolled back

    assert await UserEraser(lambda: MemoryUnitOfWork(seeded), batch_size=2).erase(event) == 3

    announced = [mid for t in _tombstones(seeded) for mid in t.data.message_ids]
    assert len(announced) == len(set(announced)) == 5
    assert _contents(seeded) == {"a": ["a-kept"], "b": ["b-kept", "agent"]}


async def test_a_user_who_wrote_nothing_is_a_no_op(seeded: MemoryStore) -> None:
    assert await UserEraser(lambda: MemoryUnitOfWork(seeded)).erase(forgotten("nobody")) == 0
    assert seeded.published == []


def test_the_batch_size_must_be_positive(store: MemoryStore) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        UserEraser(lambda: MemoryUnitOfWork(store), batch_size=0)


@pytest.fixture
async def broker(store: MemoryStore, service: ChatService) -> AsyncIterator[NatsBroker]:
    real = create_broker("nats://127.0.0.1:4222", "chat")
    register_consumers(real, service, eraser=UserEraser(lambda: MemoryUnitOfWork(store)))
    async with TestNatsBroker(real) as test_broker:
        yield test_broker


async def test_the_consumer_erases_on_the_gateway_event(
    broker: NatsBroker, store: MemoryStore, service: ChatService
) -> None:
    await _seed(service)

    await publish_event(broker, forgotten())

    assert _contents(store) == {"a": ["a-kept"], "b": ["b-kept", "agent"]}
    assert [t.data.room_id for t in _tombstones(store)] == ["a", "b"]
