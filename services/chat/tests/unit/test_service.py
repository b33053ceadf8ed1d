"""Chat use cases on the memory adapters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coagent_chat.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_chat.domain import MAX_CONTENT_CHARS, InvalidMessage, NewMessage
from coagent_chat.service import MAX_PAGE, ChatService
from coagent_contracts.chat import MessagePostedV1, RoomActivityRecordedV1
from coagent_contracts.workflow import AgentMessageProducedV1

AgentReply = Callable[..., AgentMessageProducedV1]


def human(room_id: str, content: str = "hi") -> NewMessage:
    return NewMessage(room_id=room_id, content=content, sender_kind="human", sender_id="u1")


async def test_seqs_are_assigned_per_room_independently(service: ChatService) -> None:
    seqs = []
    for room in ("r1", "r2", "r1", "r1", "r2"):
        seqs.append((room, (await service.post_message(human(room))).seq))

    assert seqs == [("r1", 1), ("r2", 1), ("r1", 2), ("r1", 3), ("r2", 2)]


async def test_posting_queues_a_matching_message_posted_event(
    service: ChatService, store: MemoryStore
) -> None:
    await service.post_message(human("r1", "first"))
    stored = await service.post_message(human("r1", "second"))

    posted = [e for e in store.published if isinstance(e, MessagePostedV1)]
    assert len(posted) == 2
    event = posted[-1]
    assert isinstance(event, MessagePostedV1)
    assert event.producer == "chat"
    assert event.data.message_id == stored.id
    assert (event.data.room_id, event.data.seq, event.data.content) == ("r1", 2, "second")
    assert event.data.sender_kind == "human"
    assert event.subject == "chat.room.r1.message.posted.v1"


async def test_history_returns_messages_after_since_in_order(service: ChatService) -> None:
    for i in range(1, 6):
        await service.post_message(human("r1", f"m{i}"))
    await service.post_message(human("other", "elsewhere"))

    page = await service.history("r1", after_seq=2)

    assert [m.seq for m in page] == [3, 4, 5]
    assert [m.body.content for m in page] == ["m3", "m4", "m5"]
    assert [m.seq for m in await service.history("r1", after_seq=2, limit=2)] == [3, 4]
    assert await service.history("r1", after_seq=5) == []


async def test_history_limit_is_clamped(service: ChatService, store: MemoryStore) -> None:
    for i in range(MAX_PAGE + 5):
        await service.post_message(human("r1", f"m{i}"))

    assert len(await service.history("r1", limit=10_000)) == MAX_PAGE
    # Without a cursor the page is the latest messages.
    assert [m.seq for m in await service.history("r1", limit=0)] == [MAX_PAGE + 5]
    assert [m.seq for m in await service.history("r1", after_seq=0, limit=-3)] == [1]


@pytest.mark.parametrize(
    "content",
    ["", "   ", "\n\t ", "x" * (MAX_CONTENT_CHARS + 1)],
    ids=["empty", "spaces", "whitespace", "oversized"],
)
def test_invalid_content_is_rejected(content: str) -> None:
    with pytest.raises(InvalidMessage) as info:
        human("r1", content)
    assert info.value.code == "invalid_message"


def test_content_at_the_limit_is_accepted() -> None:
    assert len(human("r1", "x" * MAX_CONTENT_CHARS).content) == MAX_CONTENT_CHARS


async def test_an_agent_message_is_stored_once_despite_redelivery(
    service: ChatService, store: MemoryStore, agent_reply: AgentReply
) -> None:
    event = agent_reply("r1", "the answer")

    first = await service.record_agent_message(event)
    again = await service.record_agent_message(event)

    assert first is not None
    assert again is None
    assert [m.body.content for m in store.messages["r1"]] == ["the answer"]
    stored = store.messages["r1"][0]
    assert (stored.body.sender_kind, stored.body.agent_id) == ("agent", "a1")
    assert stored.body.sender_name == "Helper"
    assert [type(e) for e in store.published] == [MessagePostedV1, RoomActivityRecordedV1]
    posted = store.published[0]
    assert isinstance(posted, MessagePostedV1)
    assert posted.causation_id == event.event_id
    assert posted.data.seq == 1


async def test_distinct_agent_events_are_both_stored(
    service: ChatService, store: MemoryStore, agent_reply: AgentReply
) -> None:
    await service.record_agent_message(agent_reply("r1", "one"))
    await service.record_agent_message(agent_reply("r1", "two"))

    assert [(m.seq, m.body.content) for m in store.messages["r1"]] == [(1, "one"), (2, "two")]


@pytest.mark.parametrize("stream_id", ["run-1.agent_a.3", "run-1." + "n" * 200 + ".3"])
async def test_a_resumed_run_repeating_a_reply_is_stored_once(
    service: ChatService, store: MemoryStore, agent_reply: AgentReply, stream_id: str
) -> None:
    # A run resumed from its checkpoint produces the same reply again: a new event, same stream.
    first, replayed = (agent_reply("r1", "the answer") for _ in range(2))
    first = first.model_copy(
        update={"data": first.data.model_copy(update={"stream_id": stream_id})}
    )
    replayed = replayed.model_copy(
        update={"data": replayed.data.model_copy(update={"stream_id": stream_id})}
    )

    assert await service.record_agent_message(first) is not None
    assert await service.record_agent_message(replayed) is None

    assert [m.body.content for m in store.messages["r1"]] == ["the answer"]
    assert store.messages["r1"][0].body.stream_id == stream_id
    assert [type(e) for e in store.published] == [MessagePostedV1, RoomActivityRecordedV1]


async def test_nothing_is_visible_or_published_without_commit(store: MemoryStore) -> None:
    async with MemoryUnitOfWork(store) as uow:
        stored, _ = await uow.messages.append(human("r1"))
        await uow.publish(
            MessagePostedV1.model_validate(
                {
                    "producer": "chat",
                    "data": {
                        "message_id": stored.id,
                        "room_id": "r1",
                        "seq": stored.seq,
                        "sender_kind": "human",
                        "content": "hi",
                        "created_at": stored.created_at.isoformat(),
                    },
                }
            )
        )
        assert await uow.claim("c", "e1")
        # no commit

    assert store.messages == {}
    assert store.published == []
    assert store.claimed == set()
    async with MemoryUnitOfWork(store) as uow:
        assert await uow.claim("c", "e1")


async def test_a_failing_post_publishes_nothing(store: MemoryStore) -> None:
    class Boom(RuntimeError):
        pass

    class FailingUnitOfWork(MemoryUnitOfWork):
        async def commit(self) -> None:
            raise Boom

    service = ChatService(lambda: FailingUnitOfWork(store))
    with pytest.raises(Boom):
        await service.post_message(human("r1"))

    assert store.messages == {}
    assert store.published == []
