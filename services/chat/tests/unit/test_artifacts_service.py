"""Artifact use cases on the memory adapters: validation, merge, versions, deletes, idempotency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from coagent_chat.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_chat.adapters.memory_artifacts import MemoryArtifactRepository, MemoryArtifactState
from coagent_chat.artifacts.domain import (
    MAX_CONTENT_BYTES,
    Artifact,
    ArtifactNotFound,
    HardDeleteForbidden,
    InvalidArtifact,
    InvalidParent,
    VersionConflict,
    VersionNotFound,
)
from coagent_chat.artifacts.service import ArtifactService
from coagent_contracts.chat import ArtifactChangedV1, ArtifactDeletedV1


async def task(service: ArtifactService, room: str = "r1", **content: object) -> Artifact:
    artifact, created = await service.create(room, "task", "Write intro", dict(content), "u1")
    assert created
    return artifact


def changes(store: MemoryStore) -> list[ArtifactChangedV1]:
    return [e for e in store.published if isinstance(e, ArtifactChangedV1)]


def deletions(store: MemoryStore) -> list[ArtifactDeletedV1]:
    return [e for e in store.published if isinstance(e, ArtifactDeletedV1)]


async def test_create_defaults_task_status_records_v1_and_publishes_the_full_state(
    artifact_service: ArtifactService, store: MemoryStore
) -> None:
    artifact = await task(artifact_service, priority="high", order=3)

    assert artifact.version == 1
    assert artifact.content == {"status": "todo", "priority": "high", "order": 3}
    assert (artifact.created_by, artifact.last_modified_by) == ("u1", "u1")
    assert await artifact_service.get(artifact.id) == artifact
    [v1] = await artifact_service.versions(artifact.id)
    assert (v1.version, v1.title, v1.changed_by) == (1, "Write intro", "u1")
    assert v1.content == artifact.content
    [event] = changes(store)
    assert event.subject == "chat.room.r1.artifact.changed.v1"
    d = event.data
    assert (d.artifact_id, d.room_id, d.artifact_type, d.version) == (artifact.id, "r1", "task", 1)
    assert (d.title, d.content, d.changed_by, d.created_by) == (
        "Write intro",
        artifact.content,
        "u1",
        "u1",
    )
    assert (d.created_at, d.updated_at) == (artifact.created_at, artifact.updated_at)


@pytest.mark.parametrize(
    ("kind", "title", "content"),
    [
        ("task", "t", {"status": "blocked"}),
        ("task", "t", {"priority": "urgent"}),
        ("task", "   ", {}),
        ("doc", "t", {"blob": "x" * (MAX_CONTENT_BYTES + 1)}),
        ("note", "t", {}),
        ("doc", "t", {"bad": float("nan")}),
    ],
)
async def test_invalid_artifacts_are_rejected_and_nothing_is_stored(
    artifact_service: ArtifactService,
    store: MemoryStore,
    kind: str,
    title: str,
    content: dict[str, object],
) -> None:
    with pytest.raises(InvalidArtifact) as caught:
        await artifact_service.create("r1", kind, title, content, "u1")

    assert caught.value.code == "invalid_artifact"
    assert await artifact_service.list_room("r1", include_deleted=True) == []
    assert store.published == []


async def test_doc_and_process_content_is_free_form(artifact_service: ArtifactService) -> None:
    doc, _ = await artifact_service.create("r1", "doc", "Notes", {"type": "doc"}, "u1")
    flow, _ = await artifact_service.create("r1", "process", "Flow", {"nodes": []}, "u1")

    assert doc.content == {"type": "doc"}
    assert flow.content == {"nodes": []}


async def test_a_parent_must_be_a_live_artifact_of_the_same_room(
    artifact_service: ArtifactService,
) -> None:
    parent = await task(artifact_service, room="r1")
    elsewhere = await task(artifact_service, room="r2")
    gone = await task(artifact_service, room="r1")
    await artifact_service.delete(gone.id, "u1", "student", "student")

    child, _ = await artifact_service.create("r1", "doc", "Child", {}, "u1", parent.id)
    assert child.parent_artifact_id == parent.id
    for bad in (elsewhere.id, gone.id, "no-such-artifact"):
        with pytest.raises(InvalidParent):
            await artifact_service.create("r1", "doc", "Child", {}, "u1", bad)


async def test_task_updates_merge_shallowly_and_keep_other_fields(
    artifact_service: ArtifactService, store: MemoryStore
) -> None:
    created = await task(artifact_service, priority="medium", order=2)

    updated = await artifact_service.update(created.id, "u2", content={"status": "done"})

    assert updated.content == {"status": "done", "priority": "medium", "order": 2}
    assert (updated.version, updated.last_modified_by, updated.title) == (2, "u2", "Write intro")
    assert updated.created_by == "u1"
    assert updated.updated_at >= created.updated_at
    assert await artifact_service.get(created.id) == updated
    event = changes(store)[-1].data
    assert (event.version, event.content, event.changed_by) == (2, updated.content, "u2")


async def test_doc_updates_replace_content(artifact_service: ArtifactService) -> None:
    doc, _ = await artifact_service.create("r1", "doc", "Notes", {"a": 1, "b": 2}, "u1")

    updated = await artifact_service.update(doc.id, "u1", title="Renamed", content={"c": 3})

    assert (updated.title, updated.content) == ("Renamed", {"c": 3})


async def test_a_merge_producing_invalid_task_content_changes_nothing(
    artifact_service: ArtifactService, store: MemoryStore
) -> None:
    created = await task(artifact_service)
    published = len(store.published)

    with pytest.raises(InvalidArtifact):
        await artifact_service.update(created.id, "u1", content={"status": "nope"})

    assert await artifact_service.get(created.id) == created
    assert len(store.published) == published


async def test_a_stale_expected_version_is_a_conflict_with_the_current_version(
    artifact_service: ArtifactService, store: MemoryStore
) -> None:
    created = await task(artifact_service)
    await artifact_service.update(created.id, "u1", title="v2", expected_version=1)
    published = len(store.published)

    with pytest.raises(VersionConflict) as caught:
        await artifact_service.update(created.id, "u2", title="lost?", expected_version=1)

    assert (caught.value.status, caught.value.code) == (409, "version_conflict")
    assert caught.value.current_version == 2
    assert (await artifact_service.get(created.id)).title == "v2"
    assert len(store.published) == published


class RacingUnitOfWork(MemoryUnitOfWork):
    """A unit whose first conditional update is preceded by a rival's committed write."""

    def __init__(self, store: MemoryStore, rivals: list[Callable[[], Awaitable[object]]]) -> None:
        self._rivals = rivals
        super().__init__(store)

    def begin(self) -> None:
        super().begin()
        self.artifacts = RacingRepository(self._store.artifact_state, self._rivals)


class RacingRepository(MemoryArtifactRepository):
    def __init__(
        self, state: MemoryArtifactState, rivals: list[Callable[[], Awaitable[object]]]
    ) -> None:
        super().__init__(state)
        self._rivals = rivals

    async def update_if_version(self, artifact: Artifact, read_version: int) -> bool:
        if self._rivals:
            await self._rivals.pop()()
        return await super().update_if_version(artifact, read_version)


async def test_an_update_racing_a_rival_is_recomputed_and_both_changes_land(
    artifact_service: ArtifactService, store: MemoryStore
) -> None:
    created = await task(artifact_service, priority="low")
    rivals: list[Callable[[], Awaitable[object]]] = [
        lambda: artifact_service.update(created.id, "rival", content={"assignee": "ada"})
    ]
    racing = ArtifactService(lambda: RacingUnitOfWork(store, rivals))

    updated = await racing.update(created.id, "u1", content={"status": "done"})

    assert rivals == []  # the rival really ran in between
    assert updated.version == 3
    assert updated.content == {"status": "done", "priority": "low", "assignee": "ada"}
    history = await artifact_service.versions(created.id)
    assert [(v.version, v.changed_by) for v in history] == [(3, "u1"), (2, "rival"), (1, "u1")]
    assert [e.data.version for e in changes(store)] == [1, 2, 3]


async def test_an_expected_version_racing_a_rival_gets_a_conflict(
    artifact_service: ArtifactService, store: MemoryStore
) -> None:
    created = await task(artifact_service)
    rivals: list[Callable[[], Awaitable[object]]] = [
        lambda: artifact_service.update(created.id, "rival", title="rival wins")
    ]
    racing = ArtifactService(lambda: RacingUnitOfWork(store, rivals))

    with pytest.raises(VersionConflict) as caught:
        await racing.update(created.id, "u1", title="mine", expected_version=1)

    assert caught.value.current_version == 2
    assert (await artifact_service.get(created.id)).title == "rival wins"


async def test_soft_delete_hides_keeps_the_room_and_publishes_a_soft_tombstone(
    artifact_service: ArtifactService, store: MemoryStore
) -> None:
    created = await task(artifact_service)

    await artifact_service.delete(created.id, "u1", "student", "student")

    with pytest.raises(ArtifactNotFound) as caught:
        await artifact_service.get(created.id)
    assert caught.value.code == "artifact_not_found"
    assert await artifact_service.list_room("r1") == []
    assert [a.id for a in await artifact_service.list_room("r1", include_deleted=True)] == [
        created.id
    ]
    assert await artifact_service.room_of(created.id) == "r1"
    [event] = deletions(store)
    assert (event.data.artifact_id, event.data.deleted_by, event.data.hard) == (
        created.id,
        "u1",
        False,
    )
    assert event.subject == "chat.room.r1.artifact.deleted.v1"
    with pytest.raises(ArtifactNotFound):  # deleting twice is not a silent success
        await artifact_service.delete(created.id, "u1", "student", "student")
    with pytest.raises(ArtifactNotFound):
        await artifact_service.update(created.id, "u1", title="zombie")
    assert len(deletions(store)) == 1


@pytest.mark.parametrize(
    ("platform_role", "resource_role"),
    [("student", "student"), ("teacher", None), ("user", "member"), ("student", None)],
)
async def test_hard_delete_is_forbidden_to_non_staff(
    artifact_service: ArtifactService,
    store: MemoryStore,
    platform_role: str,
    resource_role: str | None,
) -> None:
    created = await task(artifact_service)

    with pytest.raises(HardDeleteForbidden) as caught:
        await artifact_service.delete(created.id, "u1", platform_role, resource_role, hard=True)

    assert (caught.value.status, caught.value.code) == (403, "hard_delete_forbidden")
    assert await artifact_service.get(created.id) == created
    assert deletions(store) == []


@pytest.mark.parametrize(
    ("platform_role", "resource_role"),
    [("student", "owner"), ("student", "teacher"), ("student", "ta"), ("admin", None)],
)
async def test_staff_hard_delete_erases_the_artifact_and_its_history(
    artifact_service: ArtifactService,
    store: MemoryStore,
    platform_role: str,
    resource_role: str | None,
) -> None:
    created = await task(artifact_service)
    await artifact_service.update(created.id, "u1", title="v2")

    await artifact_service.delete(created.id, "t1", platform_role, resource_role, hard=True)

    with pytest.raises(ArtifactNotFound):
        await artifact_service.room_of(created.id)
    assert store.artifact_state.versions == {}
    assert await artifact_service.list_room("r1", include_deleted=True) == []
    [event] = deletions(store)
    assert (event.data.hard, event.data.deleted_by) == (True, "t1")


async def test_a_soft_deleted_artifact_can_still_be_hard_deleted(
    artifact_service: ArtifactService, store: MemoryStore
) -> None:
    created = await task(artifact_service)
    await artifact_service.delete(created.id, "u1", "student", "student")

    await artifact_service.delete(created.id, "su", "super_admin", None, hard=True)

    assert [e.data.hard for e in deletions(store)] == [False, True]
    assert store.artifact_state.artifacts == {}


async def test_versions_newest_first_and_restore_makes_a_new_version(
    artifact_service: ArtifactService,
) -> None:
    created = await task(artifact_service, priority="low")
    await artifact_service.update(created.id, "u2", title="Second", content={"status": "done"})

    history = await artifact_service.versions(created.id)
    assert [v.version for v in history] == [2, 1]
    assert (await artifact_service.version(created.id, 2)).title == "Second"

    restored = await artifact_service.restore(created.id, 1, "u3", expected_version=2)

    assert restored.version == 3
    assert (restored.title, restored.content) == (created.title, created.content)
    assert restored.last_modified_by == "u3"
    assert [v.version for v in await artifact_service.versions(created.id)] == [3, 2, 1]
    with pytest.raises(VersionNotFound):
        await artifact_service.version(created.id, 9)
    with pytest.raises(VersionConflict):
        await artifact_service.restore(created.id, 2, "u3", expected_version=2)


async def test_an_idempotency_key_returns_the_first_artifact_without_a_new_event(
    artifact_service: ArtifactService, store: MemoryStore
) -> None:
    first, created = await artifact_service.create("r1", "task", "A", {}, "u1", None, "k1")
    again, created_again = await artifact_service.create("r1", "task", "B", {}, "u1", None, "k1")
    other_user, _ = await artifact_service.create("r1", "task", "C", {}, "u2", None, "k1")
    other_room, _ = await artifact_service.create("r2", "task", "D", {}, "u1", None, "k1")

    assert (created, created_again) == (True, False)
    assert again == first
    assert len({first.id, other_user.id, other_room.id}) == 3
    assert len(changes(store)) == 3


async def test_listing_is_newest_first_filtered_by_type_and_limited(
    artifact_service: ArtifactService,
) -> None:
    made = [
        (await artifact_service.create("r1", kind, f"a{i}", {}, "u1"))[0]
        for i, kind in enumerate(["task", "doc", "task", "process"])
    ]
    await task(artifact_service, room="r2")

    listed = await artifact_service.list_room("r1")
    assert [a.id for a in listed] == [a.id for a in reversed(made)]
    tasks = await artifact_service.list_room("r1", artifact_type="task")
    assert [a.title for a in tasks] == ["a2", "a0"]
    assert len(await artifact_service.list_room("r1", limit=2)) == 2
