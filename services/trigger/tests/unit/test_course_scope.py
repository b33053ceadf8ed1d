"""Policies scoped to a course: which rooms they cover, the fallback they block, manual firing,
and who may set a scope (memory adapters, a scripted gateway)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from coagent_contracts.chat import MessagePostedV1
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.adapters.memory_rooms import ScriptedAccess
from coagent_trigger.policies import Policy, RoomOutOfScope, ScopeConflict, ScopeForbidden
from coagent_trigger.policy_service import PolicyService
from coagent_trigger.room_projection import RoomProjection
from coagent_trigger.rooms import GatewayUnavailable
from coagent_trigger.secrets_box import SecretBox

from .scope_kit import ADMIN, OUTSIDER, T0, TEACHER, create, fired, project_rooms, scripted_access

Posted = Callable[..., MessagePostedV1]


@pytest.fixture
def access() -> ScriptedAccess:
    return scripted_access()


@pytest.fixture
def service(store: MemoryStore, access: ScriptedAccess) -> PolicyService:
    return PolicyService(
        lambda: MemoryUnitOfWork(store), SecretBox("k"), clock=lambda: T0, access=access
    )


@pytest.fixture
async def projection(store: MemoryStore) -> RoomProjection:
    projection = RoomProjection(lambda: MemoryUnitOfWork(store))
    await project_rooms(projection)
    return projection


def test_a_scope_is_a_room_a_course_or_everywhere() -> None:
    base = Policy(
        id="p",
        name="p",
        event_type="user_message",
        conditions={},
        target_workflow_id="wf",
        scope_session_id=None,
        is_active=True,
        created_by="u",
        created_at=T0,
        updated_at=T0,
    )
    course = Policy(**{**base.__dict__, "scope_course_id": "c1"})
    room = Policy(**{**base.__dict__, "scope_session_id": "A"})
    assert course.covers_room("A", "c1")
    assert not course.covers_room("D", "c2")
    assert not course.covers_room("U", None)  # a room the projection does not know yet
    assert room.covers_room("A", "c1")
    assert not room.covers_room("B", "c1")
    assert base.covers_room("U", None)
    assert base.covers_room("D", "c2")


async def test_a_course_policy_fires_in_its_courses_rooms_only(
    service: PolicyService, projection: RoomProjection, store: MemoryStore, posted: Posted
) -> None:
    policy = await create(service)
    for room in ("A", "B", "D", "U"):
        await service.on_message(posted(1, room_id=room, content="go"))

    events = fired(store)
    assert sorted(e.data.room_id or "" for e in events) == ["A", "B"]
    assert {(e.data.policy_id, e.data.owner_role) for e in events} == {(policy.id, "teacher")}


async def test_a_course_policy_fires_only_where_its_owner_may_act_now(
    service: PolicyService,
    projection: RoomProjection,
    store: MemoryStore,
    access: ScriptedAccess,
    posted: Posted,
) -> None:
    await create(service)
    access.allowed.discard(("A", "teacher-1"))
    await service.on_message(posted(1, room_id="A", content="go"))
    await service.on_message(posted(1, room_id="B", content="go"))
    assert [e.data.room_id for e in fired(store)] == ["B"]


async def test_a_course_policy_blocks_the_fallback_only_in_its_courses_rooms(
    service: PolicyService, store: MemoryStore, posted: Posted
) -> None:
    await project_rooms(RoomProjection(lambda: MemoryUnitOfWork(store)), attached="wf-room")
    await create(service, keyword="never-said")

    for room in ("A", "D"):
        await service.on_message(posted(1, room_id=room, content="hello"))

    # The policy applies to A (it does not match, yet it is A's configuration): no fallback
    # there; D belongs to another course and keeps its fallback.
    assert [(e.data.room_id, e.data.kind) for e in fired(store)] == [("D", "room_fallback")]


async def test_a_room_and_a_course_scope_at_once_are_refused(
    service: PolicyService, store: MemoryStore
) -> None:
    with pytest.raises(ScopeConflict) as refused:
        await create(service, room="A", course="c1")
    assert (refused.value.status, refused.value.code) == (422, "scope_conflict")

    scoped = await create(service, room="A", course=None)
    with pytest.raises(ScopeConflict):
        await service.update(TEACHER, scoped.id, {"scope_course_id": "c1"})
    moved = await service.update(
        TEACHER, scoped.id, {"scope_course_id": "c1", "scope_session_id": None}
    )
    assert (moved.policy.scope_session_id, moved.policy.scope_course_id) == (None, "c1")
    cleared = await service.update(TEACHER, scoped.id, {"scope_course_id": None})
    assert (cleared.policy.scope_session_id, cleared.policy.scope_course_id) == (None, None)


async def test_a_scope_needs_the_callers_access_to_that_room_or_course(
    service: PolicyService, store: MemoryStore, access: ScriptedAccess
) -> None:
    for room, course in (("A", None), (None, "c1")):
        with pytest.raises(ScopeForbidden) as refused:
            await create(service, OUTSIDER, room=room, course=course)
        assert (refused.value.status, refused.value.code) == (403, "scope_forbidden")
    assert store.policies == {}
    assert access.asked == [("A", "outsider")]
    assert access.asked_courses == [("c1", "outsider")]

    mine = await create(service)  # the teacher may act on course c1
    asked = len(access.asked_courses)
    await service.update(TEACHER, mine.id, {"name": "renamed"})  # same scope: not asked again
    assert len(access.asked_courses) == asked
    with pytest.raises(ScopeForbidden):
        await service.update(TEACHER, mine.id, {"scope_course_id": "c2"})
    assert store.policies[mine.id].scope_course_id == "c1"  # nothing stored

    # Admins pass without a question, even for a course nobody told the gateway about.
    theirs = await create(service, ADMIN, course="c9")
    assert theirs.scope_course_id == "c9"
    assert ("c9", "admin-1") not in access.asked_courses


async def test_no_answer_from_the_gateway_stores_nothing(
    service: PolicyService, store: MemoryStore, access: ScriptedAccess
) -> None:
    mine = await create(service, course=None)
    access.down = True
    with pytest.raises(GatewayUnavailable) as unavailable:
        await create(service, course="c1")
    assert (unavailable.value.status, unavailable.value.code) == (503, "gateway_unavailable")
    with pytest.raises(GatewayUnavailable):
        await service.update(TEACHER, mine.id, {"scope_session_id": "A"})
    assert list(store.policies) == [mine.id]
    assert store.policies[mine.id].scope_session_id is None


async def test_a_course_policy_is_fired_by_hand_only_into_its_courses_rooms(
    service: PolicyService, projection: RoomProjection, store: MemoryStore
) -> None:
    policy = await create(service, event_type="manual", course="c1")
    for room in ("D", "U"):  # another course's room, a room not known yet
        with pytest.raises(RoomOutOfScope) as refused:
            await service.fire_manually(TEACHER, policy.id, room, {})
        assert refused.value.code == "room_out_of_scope"
    firing = await service.fire_manually(TEACHER, policy.id, "B", {"x": 1})
    assert firing.room_id == "B"
    [event] = fired(store)
    assert (event.data.room_id, event.data.owner_role) == ("B", "teacher")


async def test_a_room_the_projection_learns_later_is_covered_from_then_on(
    service: PolicyService, store: MemoryStore, posted: Posted
) -> None:
    await create(service)
    await service.on_message(posted(1, room_id="A", content="go"))
    assert fired(store) == []  # room A is not known yet
    await project_rooms(RoomProjection(lambda: MemoryUnitOfWork(store)))
    later = posted(2, room_id="A", content="go", created_at=T0 + timedelta(minutes=5))
    await service.on_message(later)
    assert [e.data.room_id for e in fired(store)] == ["A"]
