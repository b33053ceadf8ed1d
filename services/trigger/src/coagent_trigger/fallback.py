"""Which ``user_message`` policies apply to a room, and the room's fallback firing.

A policy applies to room R when its scope covers R (scoped to R, to R's course per the room
projection, or unscoped) and its owner may act on R now (the gateway says so): an unscoped
policy is "every room the owner may act on", never every room; a course-scoped one is every room
of that course the owner may act on. A human message in R falls back to R's attached workflow
only when nothing applies to R, so a policy elsewhere never disables another room's fallback (the
reference system's global fallback bug). The fallback fires like a policy: a deterministic key
from the message event, a firing-log row, one ``TriggerFiredV1``; it runs with the authority of
whoever attached the workflow, so the engine's owner check applies to it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from coagent_contracts.chat import MessagePostedData
from coagent_contracts.envelope import uuid7
from coagent_contracts.trigger import (
    TriggerFiredData,
    TriggerFiredV1,
    firing_key,
    room_fallback_policy_id,
)
from coagent_trigger.policies import Firing, Policy
from coagent_trigger.ports import UnitOfWork
from coagent_trigger.rooms import Access, AccessChecker, RoomView

PRODUCER = "trigger"


@dataclass(frozen=True)
class RoomDecision:
    """What a message in a room may fire: the policies that apply (with their owners' current
    platform roles) and, when none applies, the room's fallback."""

    applying: list[Policy]
    fallback: Fallback | None = None


@dataclass(frozen=True)
class Fallback:
    """The room's attached workflow and who it runs as."""

    room_id: str
    workflow_id: str
    attached_by: str
    owner_role: str | None


async def owner_grants(
    access: AccessChecker | None, policies: Iterable[Policy], room_id: str, course_id: str | None
) -> dict[str, Access] | None:
    """The gateway's answer for every owner of a policy covering ``room_id`` (None: no checker
    wired, so every owner is taken to have access)."""
    if access is None:
        return None
    owners = sorted({p.created_by for p in policies if p.covers_room(room_id, course_id)})
    return {owner: await access.check(room_id, owner) for owner in owners}


def applying(
    policies: Iterable[Policy],
    room_id: str,
    course_id: str | None,
    grants: dict[str, Access] | None,
) -> list[Policy]:
    """Policies that apply to ``room_id`` (of course ``course_id``): their scope covers it and
    their owner may act on it now; each carries its owner's current platform role. A policy
    whose owner lost the room neither fires nor keeps the room's fallback from running."""
    found: list[Policy] = []
    for policy in policies:
        if not policy.covers_room(room_id, course_id):
            continue
        if grants is None:
            found.append(policy)
            continue
        grant = grants.get(policy.created_by)
        if grant is not None and grant.allowed:
            found.append(replace(policy, owner_role=grant.platform_role or policy.owner_role))
    return found


async def decide(
    access: AccessChecker | None,
    policies: list[Policy],
    message: MessagePostedData,
    room: RoomView | None,
) -> RoomDecision:
    """Ask what must be asked (outside any transaction: it may wait on the gateway) and decide.

    Raises ``GatewayUnavailable`` when an answer is needed and cannot be had: the message is then
    retried rather than decided without the check.
    """
    course = None if room is None else room.course_id
    grants = await owner_grants(access, policies, message.room_id, course)
    found = applying(policies, message.room_id, course, grants)
    if found or message.sender_kind != "human" or room is None or room.fallback is None:
        return RoomDecision(found)  # agents never fall back: their replies must not loop
    workflow_id, attacher = room.fallback
    role: str | None = None
    if access is not None:
        grant = await access.check(message.room_id, attacher)
        if not grant.allowed:
            return RoomDecision(found)
        role = grant.platform_role
    return RoomDecision(found, Fallback(message.room_id, workflow_id, attacher, role))


async def record_fallback(
    uow: UnitOfWork,
    fallback: Fallback,
    *,
    source_event_id: str,
    payload: dict[str, Any],
    now: datetime,
) -> Firing | None:
    """Log the room's fallback firing and queue its event; ``None`` if its key is logged."""
    token = room_fallback_policy_id(fallback.room_id)
    key = firing_key(token, source_event_id=source_event_id)
    firing = Firing(
        id=str(uuid7()),
        firing_key=key,
        policy_id=None,
        event_type="user_message",
        outcome="fired",
        room_id=fallback.room_id,
        source_event_id=source_event_id,
        fired_by=None,
        created_at=now,
        detail={"workflow_id": fallback.workflow_id, "attached_by": fallback.attached_by},
        kind="room_fallback",
    )
    if not await uow.firings.add(firing):
        return None
    data = TriggerFiredData(
        policy_id=token,
        workflow_id=fallback.workflow_id,
        room_id=fallback.room_id,
        event_type="user_message",
        firing_key=key,
        source_event_id=source_event_id,
        payload=payload,
        owner_id=fallback.attached_by,
        owner_role=fallback.owner_role,
        kind="room_fallback",
    )
    await uow.publish(TriggerFiredV1(producer=PRODUCER, data=data))
    return firing
