"""Artifacts on a real PostgreSQL: conditional updates under concurrency, history and the outbox."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_chat.adapters.postgres import PostgresUnitOfWork, outbox
from coagent_chat.adapters.postgres_artifacts import artifact_versions, artifacts
from coagent_chat.artifacts.domain import Artifact, InvalidParent, VersionConflict
from coagent_chat.artifacts.service import ArtifactService
from coagent_contracts.chat import ArtifactChangedV1, ArtifactDeletedV1

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_artifacts(sessions: async_sessionmaker[AsyncSession]) -> ArtifactService:
    return ArtifactService(lambda: PostgresUnitOfWork(sessions, lambda: None))


@pytest.fixture
def room() -> str:
    """A room id of this test only: the database is shared by the whole session."""
    return f"room-{uuid.uuid4().hex[:12]}"


async def outbox_events(
    sessions: async_sessionmaker[AsyncSession], room: str
) -> list[ArtifactChangedV1 | ArtifactDeletedV1]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(outbox.c.subject, outbox.c.payload)
                .where(outbox.c.subject.contains(f".{room}.artifact."))
                .order_by(outbox.c.position)
            )
        ).all()
    events: list[ArtifactChangedV1 | ArtifactDeletedV1] = []
    for subject, payload in rows:
        kind = ArtifactDeletedV1 if subject.endswith("deleted.v1") else ArtifactChangedV1
        events.append(kind.model_validate_json(payload))
    return events


async def new_task(service: ArtifactService, room: str, **content: object) -> Artifact:
    artifact, _ = await service.create(room, "task", "Task", dict(content), "u1")
    return artifact


async def test_create_update_and_read_round_trip_with_events_in_the_outbox(
    pg_artifacts: ArtifactService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    created = await new_task(pg_artifacts, room, priority="high", order=1)
    child, _ = await pg_artifacts.create(room, "doc", "Spec", {"type": "doc"}, "u1", created.id)

    updated = await pg_artifacts.update(created.id, "u2", content={"status": "done"})

    assert await pg_artifacts.get(created.id) == updated
    assert updated.content == {"status": "done", "priority": "high", "order": 1}
    assert [a.id for a in await pg_artifacts.list_room(room)] == [child.id, created.id]
    assert [a.id for a in await pg_artifacts.list_room(room, "doc")] == [child.id]
    events = await outbox_events(sessions, room)
    assert [(type(e), e.data.artifact_id) for e in events] == [
        (ArtifactChangedV1, created.id),
        (ArtifactChangedV1, child.id),
        (ArtifactChangedV1, created.id),
    ]
    last = events[-1]
    assert isinstance(last, ArtifactChangedV1)
    assert (last.data.version, last.data.content, last.data.changed_by) == (
        2,
        updated.content,
        "u2",
    )
    assert events[1].subject == f"chat.room.{room}.artifact.changed.v1"
    assert isinstance(events[1], ArtifactChangedV1)
    assert events[1].data.parent_artifact_id == created.id


async def test_a_conflict_is_reported_and_loses_nothing(
    pg_artifacts: ArtifactService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    created = await new_task(pg_artifacts, room)
    await pg_artifacts.update(created.id, "u1", content={"status": "review"}, expected_version=1)

    with pytest.raises(VersionConflict) as caught:
        await pg_artifacts.update(created.id, "u2", content={"status": "done"}, expected_version=1)

    assert caught.value.current_version == 2
    current = await pg_artifacts.get(created.id)
    assert (current.version, current.content["status"]) == (2, "review")
    assert [v.version for v in await pg_artifacts.versions(created.id)] == [2, 1]
    assert [e.data.version for e in await outbox_events(sessions, room)] == [1, 2]  # type: ignore[union-attr]


async def test_concurrent_writers_without_expected_version_all_land(
    pg_artifacts: ArtifactService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    writers = 10
    created = await new_task(pg_artifacts, room)

    results = await asyncio.gather(
        *(pg_artifacts.update(created.id, f"w{i}", content={f"k{i}": i}) for i in range(writers))
    )

    assert sorted(r.version for r in results) == list(range(2, writers + 2))
    final = await pg_artifacts.get(created.id)
    assert final.version == writers + 1
    # Every writer's merged key survived: no update overwrote another's.
    assert final.content == {"status": "todo"} | {f"k{i}": i for i in range(writers)}
    history = await pg_artifacts.versions(created.id)
    assert [v.version for v in history] == list(range(writers + 1, 0, -1))
    assert sorted(v.changed_by or "" for v in history[:-1]) == sorted(
        f"w{i}" for i in range(writers)
    )
    events = await outbox_events(sessions, room)
    assert sorted(e.data.version for e in events) == list(range(1, writers + 2))  # type: ignore[union-attr]


async def test_with_expected_version_exactly_one_of_two_writers_wins(
    pg_artifacts: ArtifactService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    created = await new_task(pg_artifacts, room)

    outcomes = await asyncio.gather(
        pg_artifacts.update(created.id, "a", title="A", expected_version=1),
        pg_artifacts.update(created.id, "b", title="B", expected_version=1),
        return_exceptions=True,
    )

    winners = [o for o in outcomes if isinstance(o, Artifact)]
    losers = [o for o in outcomes if isinstance(o, VersionConflict)]
    assert (len(winners), len(losers)) == (1, 1), outcomes
    assert losers[0].current_version == 2
    current = await pg_artifacts.get(created.id)
    assert (current.version, current.title) == (2, winners[0].title)
    assert len(await pg_artifacts.versions(created.id)) == 2
    assert len(await outbox_events(sessions, room)) == 2


async def test_concurrent_creates_with_one_idempotency_key_make_one_artifact(
    pg_artifacts: ArtifactService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    results = await asyncio.gather(
        *(pg_artifacts.create(room, "task", "Once", {}, "u1", None, "key-1") for _ in range(5))
    )

    assert len({artifact.id for artifact, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    async with sessions() as session:
        rows = await session.scalar(
            select(func.count()).select_from(artifacts).where(artifacts.c.room_id == room)
        )
    assert rows == 1
    assert len(await outbox_events(sessions, room)) == 1


async def test_hard_delete_erases_history_and_unlinks_children(
    pg_artifacts: ArtifactService, sessions: async_sessionmaker[AsyncSession], room: str
) -> None:
    parent = await new_task(pg_artifacts, room)
    await pg_artifacts.update(parent.id, "u1", title="v2")
    child, _ = await pg_artifacts.create(room, "doc", "Child", {}, "u1", parent.id)
    await pg_artifacts.delete(parent.id, "u1", "student", "student")
    with pytest.raises(InvalidParent):  # a soft-deleted parent takes no new children
        await pg_artifacts.create(room, "doc", "Late", {}, "u1", parent.id)

    await pg_artifacts.delete(parent.id, "t1", "student", "teacher", hard=True)

    async with sessions() as session:
        history = await session.scalar(
            select(func.count())
            .select_from(artifact_versions)
            .where(artifact_versions.c.artifact_id == parent.id)
        )
    assert history == 0
    assert (await pg_artifacts.get(child.id)).parent_artifact_id is None
    deleted = [e for e in await outbox_events(sessions, room) if isinstance(e, ArtifactDeletedV1)]
    assert [(e.data.artifact_id, e.data.hard) for e in deleted] == [
        (parent.id, False),
        (parent.id, True),
    ]
