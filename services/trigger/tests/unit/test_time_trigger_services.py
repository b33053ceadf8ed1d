"""Arming and firing of time triggers through the services, on the memory adapters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coagent_contracts.chat import MessagePostedV1
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.adapters.memory_schedules import MemoryCanceller
from coagent_trigger.due_service import DueService
from coagent_trigger.policies import Caller
from coagent_trigger.policy_service import PolicyDraft, PolicyService
from coagent_trigger.schedules import Arm, DueMessage
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.service import TriggerService

from .clock import Clock

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MessageFactory = Callable[..., MessagePostedV1]
OWNER = Caller(user_id="u1", platform_role="teacher")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def svc(store: MemoryStore, clock: Clock) -> PolicyService:
    return PolicyService(
        lambda: MemoryUnitOfWork(store),
        SecretBox("k"),
        clock=clock,
        canceller=MemoryCanceller(store.timers),
    )


@pytest.fixture
def due(store: MemoryStore, clock: Clock) -> DueService:
    return DueService(lambda: MemoryUnitOfWork(store), clock=clock)


@pytest.fixture
def activity(store: MemoryStore, clock: Clock) -> TriggerService:
    return TriggerService(lambda: MemoryUnitOfWork(store), clock=clock)


async def create(svc: PolicyService, event_type: str, room: str | None, **conditions: Any) -> str:
    draft = PolicyDraft("p", event_type, conditions, "wf", room, True)  # type: ignore[arg-type]
    return (await svc.create(OWNER, draft)).policy.id


def pending(store: MemoryStore, policy_id: str) -> list[Arm]:
    return [a for a in store.timers.pending().values() if a.due.policy_id == policy_id]


async def test_a_timer_fires_each_instant_once_and_arms_the_next(
    svc: PolicyService, due: DueService, store: MemoryStore, clock: Clock
) -> None:
    policy_id = await create(svc, "timer", "r1", interval_mins=1, overlap="allow")
    [arm] = pending(store, policy_id)
    assert arm.due.at == T0 + timedelta(minutes=1)

    clock.now = arm.due.at
    fired = await due.on_due(arm.due)
    assert [f.firing_key for f in fired] == [f"{policy_id}:room:r1:at:2026-01-05T09:01:00Z"]
    assert fired[0].room_id == "r1"
    assert await due.on_due(arm.due) == [], "a redelivered due message fires nothing"
    [next_arm] = pending(store, policy_id)
    assert next_arm.due.at == T0 + timedelta(minutes=2)
    assert len(store.published) == 1


async def test_a_stale_due_message_fires_nothing_and_rearms_the_current_instant(
    svc: PolicyService, due: DueService, store: MemoryStore, clock: Clock
) -> None:
    policy_id = await create(svc, "timer", None, interval_mins=1)
    stale = DueMessage(kind="timer", policy_id=policy_id, at=T0 + timedelta(seconds=30))
    clock.advance(30)
    assert await due.on_due(stale) == []
    assert store.published == []
    assert pending(store, policy_id)[0].due.at == T0 + timedelta(minutes=1)


async def test_pausing_cancels_and_resuming_restarts_from_now(
    svc: PolicyService, due: DueService, store: MemoryStore, clock: Clock
) -> None:
    policy_id = await create(svc, "cron", None, cron="0 * * * *", timezone="Europe/Paris")
    [arm] = pending(store, policy_id)
    await svc.update(OWNER, policy_id, {"is_active": False})
    assert store.timers.cancelled == [policy_id]
    assert policy_id not in store.timers.clocks
    clock.now = arm.due.at
    assert await due.on_due(arm.due) == [], "a schedule that escaped the purge finds no clock"

    clock.advance(30 * 60)
    await svc.update(OWNER, policy_id, {"is_active": True})
    [resumed] = pending(store, policy_id)
    assert resumed.due.at == arm.due.at + timedelta(hours=1)


async def test_renaming_keeps_the_clock_and_deleting_cancels(
    svc: PolicyService, store: MemoryStore, clock: Clock
) -> None:
    policy_id = await create(svc, "timer", None, interval_mins=1)
    clock.advance(20)
    await svc.update(OWNER, policy_id, {"name": "renamed"})
    assert store.timers.clocks[policy_id].next_at == T0 + timedelta(minutes=1)
    await svc.update(OWNER, policy_id, {"conditions": {"interval_mins": 2}})
    assert store.timers.clocks[policy_id].next_at == clock.now + timedelta(minutes=2)
    await svc.delete(OWNER, policy_id)
    assert store.timers.cancelled == [policy_id]
    assert policy_id not in store.timers.clocks


async def test_a_timer_past_its_end_stops(
    svc: PolicyService, due: DueService, store: MemoryStore, clock: Clock
) -> None:
    end = (T0 + timedelta(seconds=90)).isoformat()
    policy_id = await create(svc, "timer", None, interval_mins=1, end_at=end)
    [arm] = pending(store, policy_id)
    clock.now = arm.due.at
    assert len(await due.on_due(arm.due)) == 1
    assert policy_id not in store.timers.clocks
    assert pending(store, policy_id) == [arm], "nothing armed after the end"


async def test_silence_rearms_on_human_messages_and_fires_once(
    svc: PolicyService,
    due: DueService,
    activity: TriggerService,
    store: MemoryStore,
    clock: Clock,
    posted: MessageFactory,
) -> None:
    policy_id = await create(svc, "silence", "r1", threshold_mins=1)
    first = posted(1, created_at=T0)
    await activity.record_message(first)
    [armed_first] = pending(store, policy_id)
    assert armed_first.due.at == T0 + timedelta(minutes=1)

    clock.advance(30)
    await activity.record_message(posted(2, created_at=clock.now))
    await activity.record_message(posted(3, "agent", created_at=clock.now + timedelta(seconds=1)))
    [armed_second] = pending(store, policy_id)
    assert armed_second.due.at == clock.now + timedelta(minutes=1)

    clock.now = armed_first.due.at
    assert await due.on_due(armed_first.due) == [], "a stale arm does nothing"
    clock.now = armed_second.due.at
    [firing] = await due.on_due(armed_second.due)
    assert firing.firing_key == f"{policy_id}:room:r1:at:2026-01-05T09:01:30Z"
    clock.advance(5)
    assert await due.on_due(armed_second.due) == [], "one silence, one firing"


async def test_a_message_processed_after_its_silence_elapsed_still_fires_it(
    svc: PolicyService,
    due: DueService,
    activity: TriggerService,
    store: MemoryStore,
    clock: Clock,
    posted: MessageFactory,
) -> None:
    policy_id = await create(svc, "silence", "r1", threshold_mins=1)
    clock.advance(5 * 60)  # the message reaches trigger five minutes late (a backlog, a restart)
    await activity.record_message(posted(1, created_at=T0))
    [armed] = pending(store, policy_id)
    assert armed.due.at == T0 + timedelta(minutes=1)  # in the past: falls due at once
    [firing] = await due.on_due(armed.due)
    assert firing.firing_key == f"{policy_id}:room:r1:at:2026-01-05T09:01:00Z"


async def test_an_unscoped_silence_fires_once_per_room_at_the_same_instant(
    svc: PolicyService,
    due: DueService,
    activity: TriggerService,
    store: MemoryStore,
    clock: Clock,
    posted: MessageFactory,
) -> None:
    policy_id = await create(svc, "silence", None, threshold_mins=1)
    for room in ("r1", "r2"):
        await activity.record_message(posted(1, room_id=room, created_at=T0))
    arms = sorted(pending(store, policy_id), key=lambda a: a.slot)
    assert [a.due.at for a in arms] == [T0 + timedelta(minutes=1)] * 2

    clock.now = T0 + timedelta(minutes=1)
    fired = [f for arm in arms for f in await due.on_due(arm.due)]

    instant = "2026-01-05T09:01:00Z"
    assert sorted(f.firing_key for f in fired) == [
        f"{policy_id}:room:r1:at:{instant}",
        f"{policy_id}:room:r2:at:{instant}",
    ]
    # The key is computed from stored facts only: a redelivery after a restart finds it logged.
    clock.advance(2)
    assert [await due.on_due(arm.due) for arm in arms] == [[], []]
    assert len(store.firings) == 2


async def test_a_new_silence_policy_arms_rooms_inside_a_silence_only(
    svc: PolicyService,
    activity: TriggerService,
    store: MemoryStore,
    clock: Clock,
    posted: MessageFactory,
) -> None:
    await activity.record_message(posted(1, room_id="quiet", created_at=T0))
    await activity.record_message(posted(1, room_id="recent", created_at=T0 + timedelta(minutes=9)))
    await activity.record_message(posted(1, "agent", room_id="agents-only", created_at=T0))
    clock.now = T0 + timedelta(minutes=10)
    policy_id = await create(svc, "silence", None, threshold_mins=5)
    rooms = sorted(a.due.room_id or "" for a in pending(store, policy_id))
    assert rooms == ["recent"]


async def test_debounce_coalesces_a_burst_into_one_firing_with_the_last_message(
    svc: PolicyService, due: DueService, store: MemoryStore, clock: Clock, posted: MessageFactory
) -> None:
    debounce = {"period_s": 2, "max_wait_s": 10}
    policy_id = await create(svc, "user_message", "r1", debounce=debounce, overlap="allow")
    messages = [posted(seq, created_at=clock.now) for seq in range(1, 6)]
    for message in messages:
        assert await svc.on_message(message) == []
        clock.advance(0.5)
    [arm] = pending(store, policy_id)
    assert arm.due.at == T0 + timedelta(seconds=4)  # 2 s after the last (at +2 s)
    assert store.published == []

    clock.now = arm.due.at
    [firing] = await due.on_due(arm.due)
    assert firing.source_event_id == messages[-1].event_id
    assert firing.detail["debounced"] == 5
    payload = store.published[0].data.payload  # type: ignore[attr-defined]
    assert payload["count"] == 5
    assert payload["message"]["seq"] == 5
    assert await due.on_due(arm.due) == []


async def test_max_wait_bounds_a_burst_that_never_ends(
    svc: PolicyService, due: DueService, store: MemoryStore, clock: Clock, posted: MessageFactory
) -> None:
    policy_id = await create(svc, "user_message", "r1", debounce={"period_s": 2, "max_wait_s": 5})
    for seq in range(1, 20):
        await svc.on_message(posted(seq, created_at=clock.now))
        clock.advance(1)
    [arm] = pending(store, policy_id)
    assert arm.due.at == T0 + timedelta(seconds=5)
    clock.now = arm.due.at
    [firing] = await due.on_due(arm.due)
    assert firing.detail["debounced"] == 19


async def test_a_paused_message_policy_closes_its_window_without_firing(
    svc: PolicyService, due: DueService, store: MemoryStore, clock: Clock, posted: MessageFactory
) -> None:
    policy_id = await create(svc, "user_message", "r1", debounce={"period_s": 1, "max_wait_s": 5})
    await svc.on_message(posted(1, created_at=clock.now))
    [arm] = pending(store, policy_id)
    await svc.update(OWNER, policy_id, {"is_active": False})
    clock.now = arm.due.at
    assert await due.on_due(arm.due) == []
    assert store.timers.bursts == {}
