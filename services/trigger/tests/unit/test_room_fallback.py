"""Which ``user_message`` policies apply to a room, the room's fallback and owners' room access
(memory adapters and a scripted gateway)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from coagent_contracts.chat import MessagePostedV1
from coagent_contracts.gateway import RoomChangedData, RoomChangedV1
from coagent_contracts.trigger import TriggerFiredV1, firing_key, room_fallback_policy_id
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.adapters.memory_rooms import ScriptedAccess
from coagent_trigger.due_service import DueService
from coagent_trigger.policies import Caller, Policy, RoomOutOfScope
from coagent_trigger.policy_service import MESSAGE_POLICIES_CONSUMER, PolicyDraft, PolicyService
from coagent_trigger.room_projection import RoomProjection
from coagent_trigger.rooms import GatewayUnavailable
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.service import TriggerService

Posted = Callable[..., MessagePostedV1]
TEACHER = Caller(user_id="teacher-1", platform_role="teacher")
OUTSIDER = Caller(user_id="outsider", platform_role="teacher")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def access() -> ScriptedAccess:
    # The teacher may act on rooms A and B; the outsider only on room C.
    allowed = {("A", "teacher-1"), ("B", "teacher-1"), ("C", "outsider")}
    return ScriptedAccess(allowed, roles={"teacher-1": "admin", "outsider": "teacher"})


@pytest.fixture
def service(store: MemoryStore, access: ScriptedAccess) -> PolicyService:
    return PolicyService(
        lambda: MemoryUnitOfWork(store), SecretBox("k"), clock=lambda: T0, access=access
    )


@pytest.fixture
def projection(store: MemoryStore) -> RoomProjection:
    return RoomProjection(lambda: MemoryUnitOfWork(store))


async def attach(
    projection: RoomProjection,
    room: str,
    workflow: str | None = "wf-room",
    by: str | None = "teacher-1",
    *,
    at: datetime = T0,
    deleted: bool = False,
) -> None:
    event = RoomChangedV1(
        producer="gateway",
        occurred_at=at,
        data=RoomChangedData(
            room_id=room,
            course_id="c1",
            attached_workflow_id=workflow,
            attached_by=by,
            deleted=deleted,
        ),
    )
    await projection.on_room_changed(event)


async def policy(
    service: PolicyService, owner: Caller, scope: str | None, keyword: str = "go"
) -> Policy:
    draft = PolicyDraft("p", "user_message", {"keyword": keyword}, "wf-policy", scope, True)
    return (await service.create(owner, draft)).policy


def fired(store: MemoryStore) -> list[TriggerFiredV1]:
    return [e for e in store.published if isinstance(e, TriggerFiredV1)]


async def test_a_human_message_runs_the_attached_workflow_once_as_the_attacher(
    service: PolicyService, projection: RoomProjection, store: MemoryStore, posted: Posted
) -> None:
    await attach(projection, "A")
    message = posted(1, room_id="A", content="hello")

    await service.on_message(message)
    await service.on_message(message)  # a redelivery fires nothing new

    [event] = fired(store)
    token = room_fallback_policy_id("A")
    assert event.msg_id == firing_key(token, source_event_id=message.event_id)
    assert (event.data.kind, event.data.policy_id, event.data.workflow_id) == (
        "room_fallback",
        token,
        "wf-room",
    )
    # The attacher's authority, with the platform role the gateway answers now.
    assert (event.data.owner_id, event.data.owner_role) == ("teacher-1", "admin")
    assert event.data.payload["message"]["content"] == "hello"
    [logged] = store.firings.values()
    assert (logged.kind, logged.policy_id, logged.room_id) == ("room_fallback", None, "A")
    assert (MESSAGE_POLICIES_CONSUMER, message.event_id) in store.claimed


async def test_a_policy_in_room_a_does_not_disable_room_bs_fallback(
    service: PolicyService, projection: RoomProjection, store: MemoryStore, posted: Posted
) -> None:
    await attach(projection, "A")
    await attach(projection, "B")
    await policy(service, TEACHER, scope="A", keyword="never-said")

    await service.on_message(posted(1, room_id="A", content="hello"))
    await service.on_message(posted(1, room_id="B", content="hello"))

    # Room A has a policy (it does not match, yet it applies): no fallback there.
    assert [e.data.room_id for e in fired(store)] == ["B"]
    assert [e.data.kind for e in fired(store)] == ["room_fallback"]


async def test_an_unscoped_policy_applies_only_where_its_owner_may_act(
    service: PolicyService, projection: RoomProjection, store: MemoryStore, posted: Posted
) -> None:
    await attach(projection, "A")
    await attach(projection, "C", by="outsider")
    p = await policy(service, OUTSIDER, scope=None)

    await service.on_message(posted(1, room_id="A", content="go"))  # outsider has no access
    await service.on_message(posted(1, room_id="C", content="go"))  # outsider is a member

    by_room = {e.data.room_id: e.data for e in fired(store)}
    # In A the outsider's policy neither fires nor disables the room's fallback.
    assert (by_room["A"].kind, by_room["A"].workflow_id) == ("room_fallback", "wf-room")
    assert (by_room["C"].kind, by_room["C"].policy_id) == ("policy", p.id)
    assert by_room["C"].owner_role == "teacher"  # the gateway's current answer
    assert len(fired(store)) == 2


async def test_no_fallback_for_agents_deleted_rooms_or_unknown_attachers(
    service: PolicyService, projection: RoomProjection, store: MemoryStore, posted: Posted
) -> None:
    await attach(projection, "A")
    await service.on_message(posted(1, room_id="A", sender_kind="agent"))
    await service.on_message(posted(2, room_id="A", sender_kind="system"))
    await attach(projection, "B", by=None)  # attached before attachers were recorded
    await service.on_message(posted(1, room_id="B"))
    await attach(projection, "A", deleted=True, at=T0 + timedelta(seconds=1))
    await service.on_message(posted(3, room_id="A"))
    await service.on_message(posted(1, room_id="unknown-room"))
    assert fired(store) == []


async def test_no_fallback_when_the_attacher_lost_access(
    service: PolicyService,
    projection: RoomProjection,
    store: MemoryStore,
    access: ScriptedAccess,
    posted: Posted,
) -> None:
    await attach(projection, "A")
    access.allowed.discard(("A", "teacher-1"))
    await service.on_message(posted(1, room_id="A"))
    assert fired(store) == []


async def test_an_unreachable_gateway_decides_nothing_and_the_message_is_retried(
    service: PolicyService,
    projection: RoomProjection,
    store: MemoryStore,
    access: ScriptedAccess,
    posted: Posted,
) -> None:
    await attach(projection, "A")
    await policy(service, OUTSIDER, scope=None)
    message = posted(1, room_id="A", content="go")
    access.down = True

    with pytest.raises(GatewayUnavailable):
        await service.on_message(message)
    assert fired(store) == []
    assert (MESSAGE_POLICIES_CONSUMER, message.event_id) not in store.claimed

    access.down = False  # the redelivery is decided
    await service.on_message(message)
    assert [e.data.kind for e in fired(store)] == ["room_fallback"]


async def test_an_older_room_event_does_not_roll_the_projection_back(
    projection: RoomProjection,
) -> None:
    await attach(projection, "A", workflow="wf-new", at=T0 + timedelta(seconds=5))
    await attach(projection, "A", workflow="wf-old", at=T0)
    room = await projection.get("A")
    assert room is not None
    assert room.fallback == ("wf-new", "teacher-1")


async def test_an_unscoped_silence_fires_only_in_rooms_its_owner_may_act_on(
    store: MemoryStore, access: ScriptedAccess, posted: Posted
) -> None:
    now = [T0]

    def uow() -> MemoryUnitOfWork:
        return MemoryUnitOfWork(store)

    policies = PolicyService(uow, SecretBox("k"), clock=lambda: now[0], access=access)
    due = DueService(uow, clock=lambda: now[0], access=access)
    activity = TriggerService(uow, clock=lambda: now[0])
    draft = PolicyDraft("quiet", "silence", {"threshold_mins": 1}, "wf", None, True)
    policy_id = (await policies.create(OUTSIDER, draft)).policy.id
    for room in ("A", "C"):  # the outsider may act on C only
        await activity.record_message(posted(1, room_id=room, created_at=T0))
    arms = [a for a in store.timers.pending().values() if a.due.policy_id == policy_id]
    assert sorted(a.due.room_id or "" for a in arms) == ["A", "C"]

    now[0] = T0 + timedelta(minutes=1)
    fired = [f for arm in arms for f in await due.on_due(arm.due)]
    assert [f.room_id for f in fired] == ["C"]

    access.down = True  # no answer: nothing is decided, the due message is retried
    [arm_c] = [a for a in arms if a.due.room_id == "C"]
    with pytest.raises(GatewayUnavailable):
        await due.on_due(arm_c.due)


async def test_an_unscoped_policy_is_fired_by_hand_only_into_its_owners_rooms(
    service: PolicyService, store: MemoryStore
) -> None:
    draft = PolicyDraft("button", "manual", {}, "wf-policy", None, True)
    p = (await service.create(OUTSIDER, draft)).policy
    with pytest.raises(RoomOutOfScope):
        await service.fire_manually(OUTSIDER, p.id, "A", {})
    firing = await service.fire_manually(OUTSIDER, p.id, "C", {})
    assert firing.room_id == "C"
    [event] = fired(store)
    assert (event.data.room_id, event.data.owner_role) == ("C", "teacher")


async def test_a_scoped_policy_fires_only_while_its_owner_may_act_with_the_current_role(
    service: PolicyService,
    projection: RoomProjection,
    store: MemoryStore,
    access: ScriptedAccess,
    posted: Posted,
) -> None:
    await attach(projection, "A")
    mine = await policy(service, TEACHER, scope="A")
    access.allowed.add(("A", "outsider"))
    await policy(service, OUTSIDER, scope="A")
    access.allowed.discard(("A", "outsider"))  # the outsider lost room A since

    await service.on_message(posted(1, room_id="A", content="go"))
    [event] = fired(store)
    # The teacher's policy fires, carrying the role the gateway answers now (not the one
    # captured at creation); the outsider's neither fires nor counts as applying.
    assert (event.data.policy_id, event.data.owner_role) == (mine.id, "admin")

    access.allowed.discard(("A", "teacher-1"))  # the owner lost the room since
    await service.on_message(posted(2, room_id="A", content="go"))
    assert [e.data.kind for e in fired(store)] == ["policy"]  # nothing fired as the teacher


async def test_a_scoped_silence_fires_only_if_its_owner_may_act_on_the_room(
    store: MemoryStore, access: ScriptedAccess, posted: Posted
) -> None:
    now = [T0]

    def uow() -> MemoryUnitOfWork:
        return MemoryUnitOfWork(store)

    policies = PolicyService(uow, SecretBox("k"), clock=lambda: now[0], access=access)
    due = DueService(uow, clock=lambda: now[0], access=access)
    activity = TriggerService(uow, clock=lambda: now[0])
    access.allowed.add(("A", "outsider"))
    for room in ("A", "C"):
        draft = PolicyDraft("quiet", "silence", {"threshold_mins": 1}, "wf", room, True)
        await policies.create(OUTSIDER, draft)
        await activity.record_message(posted(1, room_id=room, created_at=T0))
    access.allowed.discard(("A", "outsider"))  # the outsider may now act on C only
    arms = list(store.timers.pending().values())

    now[0] = T0 + timedelta(minutes=1)
    fired_now = [f for arm in arms for f in await due.on_due(arm.due)]
    assert [f.room_id for f in fired_now] == ["C"]
    [event] = fired(store)
    assert (event.data.room_id, event.data.owner_role) == ("C", "teacher")
