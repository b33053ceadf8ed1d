"""``user_message`` policies evaluated against posted messages (memory adapters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from coagent_contracts.chat import MessagePostedV1
from coagent_contracts.trigger import TriggerFiredV1, firing_key
from coagent_trigger.adapters.memory import MemoryStore
from coagent_trigger.policies import Caller, Policy
from coagent_trigger.policy_service import MESSAGE_POLICIES_CONSUMER, PolicyDraft, PolicyService

Posted = Callable[..., MessagePostedV1]
OWNER = Caller(user_id="u1", platform_role="teacher")


async def policy(
    policies: PolicyService,
    conditions: dict[str, Any] | None = None,
    *,
    scope: str | None = "r1",
    event_type: Any = "user_message",
    active: bool = True,
) -> Policy:
    draft = PolicyDraft(
        name="p",
        event_type=event_type,
        conditions=conditions or {},
        target_workflow_id="wf-1",
        scope_session_id=scope,
        is_active=active,
    )
    return (await policies.create(OWNER, draft)).policy


def fired(store: MemoryStore) -> list[TriggerFiredV1]:
    return [e for e in store.published if isinstance(e, TriggerFiredV1)]


async def test_a_matching_message_fires_once_with_the_contracts_key(
    policies: PolicyService, store: MemoryStore, posted: Posted
) -> None:
    p = await policy(policies, {"keyword": "HELP"})
    message = posted(1, content="can someone help me?")

    await policies.on_message(message)
    await policies.on_message(message)  # a redelivery

    [event] = fired(store)
    assert event.msg_id == firing_key(p.id, source_event_id=message.event_id)
    assert event.msg_id == f"{p.id}:event:{message.event_id}"
    assert (event.data.room_id, event.data.workflow_id) == ("r1", "wf-1")
    assert event.data.payload["message"]["content"] == "can someone help me?"
    assert event.data.payload["count"] == 1
    [logged] = store.firings.values()
    assert (logged.firing_key, logged.outcome) == (event.msg_id, "fired")
    assert (MESSAGE_POLICIES_CONSUMER, message.event_id) in store.claimed


@pytest.mark.parametrize(
    ("conditions", "kwargs", "fires"),
    [
        ({"keyword": "help"}, {"content": "all good"}, False),
        ({"keyword": ["bug", "crash"]}, {"content": "it CRASHED again"}, True),
        ({"regex": r"\b\d{3}\b"}, {"content": "room 204 please"}, True),
        ({"regex": r"\b\d{3}\b"}, {"content": "room 2040"}, False),
        ({}, {"sender_kind": "agent"}, False),  # default sender_kind is human
        ({"sender_kind": "agent"}, {"sender_kind": "agent"}, True),
        ({"sender_kind": "agent"}, {}, False),
        ({"sender_kind": "any"}, {"sender_kind": "agent"}, True),
        ({"sender_kind": "any"}, {"sender_kind": "system"}, False),
        ({"mention": "Tutor"}, {"mentions": ("tutor",)}, True),
        ({"mention": "tutor"}, {"content": "hey @tutor, a question"}, True),
        ({"mention": "tutor"}, {"content": "hey @tutorial fans"}, False),
        ({"mention": "tutor"}, {"content": "the tutor said"}, False),
        (
            {"sender_kind": "agent", "sender_roles": ["teacher"]},
            {"sender_kind": "agent", "agent_type": "Teacher"},
            True,
        ),
        (
            {"sender_kind": "agent", "sender_roles": ["teacher"]},
            {"sender_kind": "agent", "agent_type": "student"},
            False,
        ),
        ({"keyword": "help", "regex": "^urgent"}, {"content": "help, not urgent"}, False),
    ],
)
async def test_conditions_decide_whether_a_message_fires(
    policies: PolicyService,
    store: MemoryStore,
    posted: Posted,
    conditions: dict[str, Any],
    kwargs: dict[str, Any],
    fires: bool,
) -> None:
    await policy(policies, conditions)
    await policies.on_message(posted(1, **kwargs))
    assert len(fired(store)) == (1 if fires else 0)


async def test_scope_limits_the_rooms_and_no_scope_means_every_room(
    policies: PolicyService, store: MemoryStore, posted: Posted
) -> None:
    scoped = await policy(policies, scope="r1")
    everywhere = await policy(policies, scope=None)

    await policies.on_message(posted(1, room_id="r2"))
    await policies.on_message(posted(2, room_id="r1"))

    by_room = sorted((e.data.room_id or "", e.data.policy_id) for e in fired(store))
    assert by_room == sorted([("r2", everywhere.id), ("r1", everywhere.id), ("r1", scoped.id)])


async def test_inactive_and_other_event_types_do_not_fire(
    policies: PolicyService, store: MemoryStore, posted: Posted
) -> None:
    await policy(policies, active=False)
    await policy(policies, event_type="manual")
    await policies.on_message(posted(1))
    assert fired(store) == []


async def test_message_count_fires_every_nth_match_per_room(
    policies: PolicyService, store: MemoryStore, posted: Posted
) -> None:
    # "allow": no run ever ends here, and the default overlap rule would skip the second firing
    await policy(policies, {"keyword": "q", "message_count": 3, "overlap": "allow"}, scope=None)
    for seq in range(1, 8):
        await policies.on_message(posted(seq, content="q?"))
        await policies.on_message(posted(seq, content="nope"))  # not matching: not counted
    await policies.on_message(posted(1, room_id="r2", content="q"))

    events = fired(store)
    assert [e.data.payload["count"] for e in events] == [3, 6]
    assert [e.data.payload["message"]["seq"] for e in events] == [3, 6]


async def test_a_failed_unit_of_work_fires_nothing_and_can_be_retried(
    policies: PolicyService, store: MemoryStore, posted: Posted, monkeypatch: pytest.MonkeyPatch
) -> None:
    await policy(policies)
    message = posted(1)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("coagent_trigger.policy_service.message_payload", broken)
    with pytest.raises(RuntimeError):
        await policies.on_message(message)
    assert (fired(store), store.firings, store.claimed) == ([], {}, set())

    monkeypatch.undo()
    await policies.on_message(message)
    assert len(fired(store)) == 1
