"""Shared set-up of the scope tests: rooms of two courses in the room projection and a scripted
gateway that knows who may act where."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from coagent_contracts.gateway import RoomChangedData, RoomChangedV1
from coagent_contracts.trigger import TriggerFiredV1
from coagent_trigger.adapters.memory import MemoryStore
from coagent_trigger.adapters.memory_rooms import ScriptedAccess
from coagent_trigger.policies import Caller, Policy
from coagent_trigger.policy_service import PolicyDraft, PolicyService
from coagent_trigger.room_projection import RoomProjection

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TEACHER = Caller(user_id="teacher-1", platform_role="teacher")
OUTSIDER = Caller(user_id="outsider", platform_role="teacher")
ADMIN = Caller(user_id="admin-1", platform_role="admin")
#: Rooms A and B belong to course c1, D to course c2; U is unknown to the projection.
COURSE_OF = {"A": "c1", "B": "c1", "D": "c2"}


def scripted_access() -> ScriptedAccess:
    """The teacher may act on every known room and on course c1; the outsider on nothing."""
    allowed = {(room, "teacher-1") for room in (*COURSE_OF, "U")}
    return ScriptedAccess(allowed, roles={"teacher-1": "teacher"}, courses={("c1", "teacher-1")})


async def project_rooms(projection: RoomProjection, attached: str | None = None) -> None:
    """Announce rooms A, B and D (each with ``attached`` as its fallback workflow)."""
    for room, course in COURSE_OF.items():
        event = RoomChangedV1(
            producer="gateway",
            occurred_at=T0,
            data=RoomChangedData(
                room_id=room,
                course_id=course,
                attached_workflow_id=attached,
                attached_by="teacher-1" if attached else None,
                deleted=False,
            ),
        )
        await projection.on_room_changed(event)


async def create(
    service: PolicyService,
    owner: Caller = TEACHER,
    *,
    event_type: str = "user_message",
    room: str | None = None,
    course: str | None = "c1",
    **conditions: Any,
) -> Policy:
    """Create a policy (default: a course-c1 message policy firing on "go")."""
    if event_type == "user_message" and not conditions:
        conditions = {"keyword": "go"}
    draft = PolicyDraft(
        "p",
        event_type,  # type: ignore[arg-type]
        conditions,
        "wf-policy",
        room,
        True,
        scope_course_id=course,
    )
    return (await service.create(owner, draft)).policy


def fired(store: MemoryStore) -> list[TriggerFiredV1]:
    """Every ``TriggerFiredV1`` committed so far."""
    return [e for e in store.published if isinstance(e, TriggerFiredV1)]
