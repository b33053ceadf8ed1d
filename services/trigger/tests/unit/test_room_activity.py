"""Room-activity rules and the use case that applies posted messages exactly once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Self

import pytest

from coagent_contracts.chat import MessagePostedV1
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.domain import MessageSeen, RoomActivity, RoomActivityNotFound, SenderKind
from coagent_trigger.service import ROOM_ACTIVITY_CONSUMER, TriggerService

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
Posted = Callable[..., MessagePostedV1]


def seen(seq: int, kind: SenderKind = "human", minute: int | None = None) -> MessageSeen:
    """Message ``seq`` of room r1, written at ``T0 + minute`` (default: ``seq``) minutes."""
    at = T0 + timedelta(minutes=seq if minute is None else minute)
    return MessageSeen(room_id="r1", seq=seq, sender_kind=kind, created_at=at)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


class _FailingUnitOfWork(MemoryUnitOfWork):
    """Fails on save, after the inbox claim was made: the claim must not survive either."""

    async def __aenter__(self) -> Self:
        await super().__aenter__()

        async def save(activity: RoomActivity) -> None:
            raise RuntimeError("disk full")

        self.activity.save = save  # type: ignore[method-assign]
        return self


# ---------------------------------------------------------------- domain rules


def test_first_message_of_a_room_starts_its_activity() -> None:
    activity = RoomActivity.first(seen(1, "agent"))
    assert activity == RoomActivity("r1", at(1), None, message_count=1, last_seq=1)


def test_newer_messages_move_timestamps_and_only_humans_move_the_human_one() -> None:
    activity = RoomActivity.first(seen(1)).observe(seen(2, "agent")).observe(seen(3, "system"))
    assert activity == RoomActivity("r1", at(3), at(1), message_count=3, last_seq=3)
    activity = activity.observe(seen(4, "human"))
    assert (activity.last_message_at, activity.last_human_message_at) == (at(4), at(4))


def test_an_older_seq_arriving_late_is_counted_but_moves_no_timestamp() -> None:
    activity = RoomActivity.first(seen(5, "agent")).observe(seen(3, "agent"))
    assert activity == RoomActivity("r1", at(5), None, message_count=2, last_seq=5)


def test_a_late_human_message_older_than_the_last_human_one_changes_nothing_but_the_count() -> None:
    activity = RoomActivity.first(seen(5, "human")).observe(seen(3, "human"))
    assert activity == RoomActivity("r1", at(5), at(5), message_count=2, last_seq=5)


def test_a_late_human_message_newer_than_the_last_human_one_is_not_lost() -> None:
    # Human seq 2 was overtaken by an agent reply (seq 3): the room was not silent since 1.
    activity = RoomActivity.first(seen(1)).observe(seen(3, "agent")).observe(seen(2))
    assert activity == RoomActivity("r1", at(3), at(2), message_count=3, last_seq=3)


def test_timestamps_never_move_backwards_when_seq_and_clock_disagree() -> None:
    # Two concurrent posts: seq 2 got an earlier created_at than seq 1.
    activity = RoomActivity.first(seen(1, minute=10)).observe(seen(2, minute=9))
    assert activity.last_message_at == at(10)
    assert activity.last_human_message_at == at(10)
    assert activity.last_seq == 2


def test_a_message_of_another_room_is_refused() -> None:
    other = MessageSeen(room_id="r2", seq=2, sender_kind="human", created_at=at(2))
    with pytest.raises(ValueError, match="r2"):
        RoomActivity.first(seen(1)).observe(other)


# ---------------------------------------------------------------- use cases


async def test_record_message_builds_the_projection(
    service: TriggerService, posted: Posted
) -> None:
    for event in (posted(1), posted(2, "agent"), posted(1, room_id="r2")):
        await service.record_message(event)
    r1 = await service.room_activity("r1")
    assert (r1.message_count, r1.last_seq) == (2, 2)
    assert r1.last_message_at == posted(2).data.created_at
    assert r1.last_human_message_at == posted(1).data.created_at
    assert (await service.room_activity("r2")).message_count == 1


async def test_a_redelivered_event_is_applied_once(
    service: TriggerService, store: MemoryStore, posted: Posted
) -> None:
    event = posted(1)
    assert await service.record_message(event) is not None
    assert await service.record_message(event) is None
    assert await service.record_message(event.model_copy()) is None
    assert (await service.room_activity("r1")).message_count == 1
    assert store.claimed == {(ROOM_ACTIVITY_CONSUMER, event.event_id)}


async def test_a_distinct_event_for_an_already_seen_seq_still_counts(
    service: TriggerService, posted: Posted
) -> None:
    # Idempotency is by event id: chat never re-announces a message under a new id, so a new
    # id is a new message even when the seq looks old (it is then an out-of-order delivery).
    await service.record_message(posted(2))
    await service.record_message(posted(1))
    activity = await service.room_activity("r1")
    assert (activity.message_count, activity.last_seq) == (2, 2)
    assert activity.last_message_at == posted(2).data.created_at


async def test_nothing_is_visible_when_the_unit_of_work_is_not_committed(
    store: MemoryStore, posted: Posted
) -> None:
    with pytest.raises(RuntimeError, match="disk full"):
        await TriggerService(lambda: _FailingUnitOfWork(store)).record_message(posted(1))
    assert store.activity == {}
    assert store.claimed == set()


async def test_unknown_room_raises_a_typed_not_found(service: TriggerService) -> None:
    with pytest.raises(RoomActivityNotFound) as caught:
        await service.room_activity("nowhere")
    assert (caught.value.status, caught.value.code) == (404, "room_activity_not_found")
