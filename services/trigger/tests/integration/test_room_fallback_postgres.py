"""The room projection and room fallback firings on the real PostgreSQL adapter."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.chat import MessagePostedV1
from coagent_contracts.gateway import RoomChangedData, RoomChangedV1
from coagent_trigger.adapters.memory_rooms import ScriptedAccess
from coagent_trigger.adapters.postgres import PostgresUnitOfWork, firings
from coagent_trigger.policies import Caller
from coagent_trigger.policy_service import PolicyDraft, PolicyService
from coagent_trigger.room_projection import RoomProjection
from coagent_trigger.secrets_box import SecretBox

pytestmark = pytest.mark.integration

Posted = Callable[..., MessagePostedV1]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _changed(
    room: str, workflow: str | None, at: datetime, course: str = "c1", deleted: bool = False
) -> RoomChangedV1:
    return RoomChangedV1(
        producer="gateway",
        occurred_at=at,
        data=RoomChangedData(
            room_id=room,
            course_id=course,
            attached_workflow_id=workflow,
            attached_by="t1" if workflow else None,
            deleted=deleted,
        ),
    )


async def test_the_newest_room_event_wins_and_a_fallback_is_logged_without_a_policy(
    sessions: async_sessionmaker[AsyncSession], posted: Posted
) -> None:
    room = f"room-{uuid.uuid4()}"
    projection = RoomProjection(lambda: PostgresUnitOfWork(sessions, lambda: None))
    newer = _changed(room, "wf-new", T0 + timedelta(seconds=5))
    assert await projection.on_room_changed(newer) is True
    assert await projection.on_room_changed(newer) is False  # a redelivery
    assert await projection.on_room_changed(_changed(room, "wf-old", T0)) is False
    view = await projection.get(room)
    assert view is not None
    assert view.fallback == ("wf-new", "t1")

    service = PolicyService(
        lambda: PostgresUnitOfWork(sessions, lambda: None),
        SecretBox("k"),
        access=ScriptedAccess({(room, "t1")}),
    )
    message = posted(1, room_id=room)
    [firing] = await service.on_message(message)
    assert await service.on_message(message) == []
    async with sessions() as session:
        rows = (await session.execute(select(firings).where(firings.c.room_id == room))).all()
    assert [(r.policy_id, r.kind, r.firing_key) for r in rows] == [
        (None, "room_fallback", firing.firing_key)
    ]


async def test_policies_covering_a_room_include_those_of_its_course(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    uid = uuid.uuid4().hex[:10]
    course, other = f"course-{uid}", f"other-{uid}"
    room, gone, elsewhere = f"room-{uid}", f"gone-{uid}", f"else-{uid}"
    projection = RoomProjection(lambda: PostgresUnitOfWork(sessions, lambda: None))
    await projection.on_room_changed(_changed(room, None, T0, course))
    await projection.on_room_changed(_changed(gone, None, T0, course, deleted=True))
    await projection.on_room_changed(_changed(elsewhere, None, T0, other))
    service = PolicyService(lambda: PostgresUnitOfWork(sessions, lambda: None), SecretBox("k"))
    owner = Caller(user_id=f"owner-{uid}", platform_role="teacher")

    async def create(room_scope: str | None, course_scope: str | None) -> str:
        conditions = {"threshold_mins": 1}
        draft = PolicyDraft(
            "p", "silence", conditions, "wf", room_scope, True, scope_course_id=course_scope
        )
        return (await service.create(owner, draft)).policy.id

    of_course, of_room = await create(None, course), await create(room, None)
    await create(None, other)
    await create(elsewhere, None)
    async with PostgresUnitOfWork(sessions, lambda: None) as uow:
        covering = await uow.policies.active_for_room("silence", room, course)
        unknown_course = await uow.policies.active_for_room("silence", room, None)
        rooms_of_course = await uow.rooms.ids_in_course(course)
        stored = await uow.policies.get(of_course)
    mine = {p.id for p in covering if p.created_by == owner.user_id}
    assert mine == {of_course, of_room}
    # Unscoped policies of other owners are covering too (access decides); none is course-bound.
    assert all(p.scope_course_id in (None, course) for p in covering)
    assert {p.id for p in unknown_course if p.created_by == owner.user_id} == {of_room}
    assert rooms_of_course == {room}  # the deleted room is not armed
    assert stored is not None
    assert stored.scope_course_id == course
