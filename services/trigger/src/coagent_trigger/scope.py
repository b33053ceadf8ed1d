"""Policy scopes: which rooms a policy covers, and who may give a policy its scope.

A policy is scoped to one room, to one course (every room of it, per the room projection) or to
nothing (every room its owner may act on). In every case it fires in a room only while its owner
may act on that room; the scope only narrows where. A room the projection does not know yet has
no known course, so no course scope covers it until the gateway's room event arrives.

Setting a scope is authorised when it is written: the caller must be able to act on that room
or course now (the gateway answers; admins pass), so nobody attaches a policy to a place they
cannot see.
"""

from __future__ import annotations

from coagent_trigger.policies import Caller, Policy, ScopeConflict, ScopeForbidden
from coagent_trigger.ports import UnitOfWork
from coagent_trigger.rooms import AccessChecker


async def room_course(uow: UnitOfWork, room_id: str) -> str | None:
    """The course of ``room_id`` per the room projection (None when the room is not known)."""
    room = await uow.rooms.get(room_id)
    return None if room is None else room.course_id


async def covers(uow: UnitOfWork, policy: Policy, room_id: str) -> bool:
    """Whether ``policy``'s scope includes ``room_id`` (reads the projection only when the
    policy is scoped to a course)."""
    if not policy.course_scoped:
        return policy.covers_room(room_id, None)
    return policy.covers_room(room_id, await room_course(uow, room_id))


def check_scope(policy: Policy) -> None:
    """Refuse a policy scoped to a room and a course at once (422 ``scope_conflict``)."""
    if policy.scope_session_id is not None and policy.scope_course_id is not None:
        raise ScopeConflict(
            "A trigger is scoped to one room (scope_session_id) or one course "
            "(scope_course_id), not both; send the other as null"
        )


def _scope(policy: Policy) -> tuple[str | None, str | None]:
    return policy.scope_session_id, policy.scope_course_id


async def authorise_scope(
    access: AccessChecker | None, caller: Caller, policy: Policy, before: Policy | None = None
) -> None:
    """Check that ``caller`` may give ``policy`` its scope (only when the scope is new: a
    rename keeps the scope it had). Raises ``ScopeForbidden`` (403) on a refusal and
    ``GatewayUnavailable`` (503) when the gateway cannot answer; nothing is stored either way.

    Without a checker (unit tests of other rules) and for admins every scope is allowed.
    """
    check_scope(policy)
    if before is not None and _scope(before) == _scope(policy):
        return
    if access is None or caller.is_admin:
        return
    if policy.scope_session_id is not None:
        grant = await access.check(policy.scope_session_id, caller.user_id)
        where = f"room {policy.scope_session_id}"
    elif policy.scope_course_id is not None:
        grant = await access.check_course(policy.scope_course_id, caller.user_id)
        where = f"course {policy.scope_course_id}"
    else:
        return
    if not grant.allowed:
        raise ScopeForbidden(f"You may not scope a trigger to {where}")
