"""Time triggers of course-scoped policies, and debounce windows closing while the owner may no
longer act on the room (memory adapters, a scripted gateway)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from coagent_contracts.chat import MessagePostedV1
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.adapters.memory_rooms import ScriptedAccess
from coagent_trigger.due_service import OWNER_NO_ACCESS, DueService
from coagent_trigger.policy_service import PolicyService
from coagent_trigger.room_projection import RoomProjection
from coagent_trigger.schedules import Arm, DueMessage
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.service import TriggerService

from .clock import Clock
from .scope_kit import T0, create, fired, project_rooms, scripted_access

Posted = Callable[..., MessagePostedV1]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def access() -> ScriptedAccess:
    return scripted_access()


@pytest.fixture
async def uow(store: MemoryStore) -> Callable[[], MemoryUnitOfWork]:
    def make() -> MemoryUnitOfWork:
        return MemoryUnitOfWork(store)

    await project_rooms(RoomProjection(make))
    return make


@pytest.fixture
def service(
    uow: Callable[[], MemoryUnitOfWork], clock: Clock, access: ScriptedAccess
) -> PolicyService:
    return PolicyService(uow, SecretBox("k"), clock=clock, access=access)


@pytest.fixture
def due(uow: Callable[[], MemoryUnitOfWork], clock: Clock, access: ScriptedAccess) -> DueService:
    return DueService(uow, clock=clock, access=access)


@pytest.fixture
def activity(uow: Callable[[], MemoryUnitOfWork], clock: Clock) -> TriggerService:
    return TriggerService(uow, clock=clock)


def pending(store: MemoryStore, policy_id: str) -> list[Arm]:
    return [a for a in store.timers.pending().values() if a.due.policy_id == policy_id]


async def test_a_course_silence_arms_and_fires_in_its_courses_rooms_only(
    service: PolicyService,
    due: DueService,
    activity: TriggerService,
    store: MemoryStore,
    clock: Clock,
    posted: Posted,
) -> None:
    await activity.record_message(posted(1, room_id="A", created_at=T0))
    await activity.record_message(posted(1, room_id="D", created_at=T0))
    policy = await create(service, event_type="silence", threshold_mins=1)
    assert [a.due.room_id for a in pending(store, policy.id)] == ["A"]  # D: another course

    await activity.record_message(posted(1, room_id="B", created_at=T0))  # re-arms in B
    await activity.record_message(posted(2, room_id="D", created_at=T0))  # not in D
    assert sorted(a.due.room_id or "" for a in pending(store, policy.id)) == ["A", "B"]

    clock.now = T0 + timedelta(minutes=1)
    stray = DueMessage(kind="silence", policy_id=policy.id, room_id="D", at=clock.now)
    assert await due.on_due(stray) == []  # a due message of a room outside the course
    fired_now = [f for a in pending(store, policy.id) for f in await due.on_due(a.due)]
    assert sorted(f.room_id or "" for f in fired_now) == ["A", "B"]


async def test_a_course_timer_fires_once_per_instant_with_no_room_like_an_unscoped_one(
    service: PolicyService, due: DueService, store: MemoryStore, clock: Clock
) -> None:
    policy = await create(service, event_type="timer", interval_mins=1)
    [arm] = pending(store, policy.id)
    assert arm.due.room_id is None
    clock.now = arm.due.at
    [firing] = await due.on_due(arm.due)
    assert firing.room_id is None
    [event] = fired(store)
    assert event.data.room_id is None
    assert event.data.payload["course_id"] == "c1"


async def test_a_window_whose_owner_lost_the_room_is_logged_instead_of_fired(
    service: PolicyService,
    due: DueService,
    store: MemoryStore,
    access: ScriptedAccess,
    clock: Clock,
    posted: Posted,
) -> None:
    policy = await create(service, keyword="go", debounce={"period_s": 2, "max_wait_s": 10})
    messages = [posted(seq, room_id="A", content="go", created_at=T0) for seq in (1, 2, 3)]
    for message in messages:
        await service.on_message(message)
    [arm] = pending(store, policy.id)
    access.allowed.discard(("A", "teacher-1"))  # removed from the course's room meanwhile

    clock.now = arm.due.at
    [logged] = await due.on_due(arm.due)
    assert (logged.outcome, logged.room_id) == ("skipped", "A")
    assert logged.detail["refused"] == OWNER_NO_ACCESS
    assert logged.detail["debounced"] == 3
    assert logged.source_event_id == messages[-1].event_id
    assert fired(store) == []
    assert store.timers.bursts == {}  # the window is closed
    assert await due.on_due(arm.due) == []  # a redelivery logs nothing more
    assert [f.firing_key for f in store.firings.values()] == [logged.firing_key]


async def test_a_window_fires_with_the_owners_role_as_the_gateway_answers_at_its_close(
    service: PolicyService,
    due: DueService,
    store: MemoryStore,
    access: ScriptedAccess,
    clock: Clock,
    posted: Posted,
) -> None:
    policy = await create(service, keyword="go", debounce={"period_s": 2, "max_wait_s": 10})
    await service.on_message(posted(1, room_id="B", content="go", created_at=T0))
    [arm] = pending(store, policy.id)
    access.roles["teacher-1"] = "admin"  # promoted since the message matched

    clock.now = arm.due.at
    [firing] = await due.on_due(arm.due)
    assert firing.outcome == "fired"
    [event] = fired(store)
    assert (event.data.room_id, event.data.owner_role) == ("B", "admin")
