"""Artifact use cases: every change is one transaction with its history row and its event.

Concurrency: an update reads the artifact, computes the next revision and stores it with a
conditional ``UPDATE … WHERE version = <read>``. A miss means another writer committed first:
with ``expected_version`` the caller gets a 409 carrying the current version; without it the
update is recomputed on the fresh state (so a task's merged fields from both writers survive).
After a few optimistic misses the read takes a row lock, so a writer cannot starve under heavy
contention and the number of attempts stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from coagent_chat.artifacts.domain import (
    Artifact,
    ArtifactNotFound,
    ArtifactVersion,
    HardDeleteForbidden,
    InvalidParent,
    VersionConflict,
    VersionNotFound,
    check_content,
    check_title,
    check_type,
    may_hard_delete,
    patched_content,
)
from coagent_chat.ports import UnitOfWork, UnitOfWorkFactory
from coagent_contracts.chat import (
    ArtifactChangedData,
    ArtifactChangedV1,
    ArtifactDeletedData,
    ArtifactDeletedV1,
    ArtifactType,
)
from coagent_contracts.envelope import uuid7
from coagent_kit.errors import Conflict

PRODUCER: Final = "chat"
MAX_LIST: Final = 1000
#: Optimistic attempts before the read locks the row (which cannot miss, so the loop ends).
OPTIMISTIC_ATTEMPTS: Final = 3

Revision = Callable[[Artifact], tuple[str, dict[str, Any]]]


def artifact_changed(artifact: Artifact) -> ArtifactChangedV1:
    """The event carrying an artifact's full new state (room sockets and GraphRAG read it)."""
    return ArtifactChangedV1(
        producer=PRODUCER,
        data=ArtifactChangedData(
            artifact_id=artifact.id,
            room_id=artifact.room_id,
            artifact_type=artifact.type,
            title=artifact.title,
            content=artifact.content,
            version=artifact.version,
            changed_by=artifact.last_modified_by,
            parent_artifact_id=artifact.parent_artifact_id,
            created_by=artifact.created_by,
            created_at=artifact.created_at,
            updated_at=artifact.updated_at,
        ),
    )


def artifact_deleted(artifact: Artifact, by: str, *, hard: bool) -> ArtifactDeletedV1:
    """The event announcing a soft (hidden) or hard (erased with history) delete."""
    return ArtifactDeletedV1(
        producer=PRODUCER,
        data=ArtifactDeletedData(
            artifact_id=artifact.id, room_id=artifact.room_id, deleted_by=by, hard=hard
        ),
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _live(artifact: Artifact | None, artifact_id: str) -> Artifact:
    if artifact is None or artifact.is_deleted:
        raise ArtifactNotFound(f"Artifact {artifact_id} not found")
    return artifact


class ArtifactService:
    """Sole writer of artifacts; every committed change is announced through the outbox."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Callable[[], datetime] = _now
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock

    async def create(
        self,
        room_id: str,
        artifact_type: str,
        title: str,
        content: dict[str, Any],
        created_by: str,
        parent_artifact_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Artifact, bool]:
        """Store a new artifact at version 1; ``(artifact, False)`` when the key was used before."""
        kind = check_type(artifact_type)
        title = check_title(title)
        content = check_content(kind, content)
        async with self._uow() as uow:
            if idempotency_key is not None:
                earlier = await uow.artifacts.by_idempotency_key(
                    room_id, created_by, idempotency_key
                )
                if earlier is not None:
                    return earlier, False
            if parent_artifact_id is not None:
                await self._check_parent(uow, room_id, parent_artifact_id)
            now = self._clock()
            artifact = Artifact(
                id=str(uuid7()),  # time-ordered: the id breaks created_at ties in listings
                room_id=room_id,
                type=kind,
                title=title,
                content=content,
                version=1,
                created_by=created_by,
                last_modified_by=created_by,
                parent_artifact_id=parent_artifact_id,
                created_at=now,
                updated_at=now,
            )
            if not await uow.artifacts.add(artifact, idempotency_key):
                # A concurrent request with the same key committed first: answer with its artifact.
                assert idempotency_key is not None
                earlier = await uow.artifacts.by_idempotency_key(
                    room_id, created_by, idempotency_key
                )
                if earlier is None:  # pragma: no cover - ON CONFLICT only yields to committed rows
                    raise Conflict("A concurrent request with the same key is still running")
                return earlier, False
            await uow.artifacts.add_version(ArtifactVersion.of(artifact))
            await uow.publish(artifact_changed(artifact))
            await uow.commit()
        return artifact, True

    @staticmethod
    async def _check_parent(uow: UnitOfWork, room_id: str, parent_id: str) -> None:
        # The share lock keeps the parent from being erased before this transaction commits.
        parent = await uow.artifacts.get(parent_id, lock="share")
        if parent is None or parent.is_deleted or parent.room_id != room_id:
            raise InvalidParent("parent_artifact_id must name a live artifact of the same room")

    async def list_room(
        self,
        room_id: str,
        artifact_type: ArtifactType | None = None,
        limit: int = 500,
        include_deleted: bool = False,
    ) -> list[Artifact]:
        """The room's artifacts, newest first."""
        async with self._uow() as uow:
            return await uow.artifacts.list_room(
                room_id, artifact_type, min(max(limit, 1), MAX_LIST), include_deleted
            )

    async def get(self, artifact_id: str) -> Artifact:
        """A live artifact (soft-deleted ones are not found)."""
        async with self._uow() as uow:
            return _live(await uow.artifacts.get(artifact_id), artifact_id)

    async def room_of(self, artifact_id: str) -> str:
        """The room of an artifact, deleted or not (the gateway authorises with it)."""
        async with self._uow() as uow:
            artifact = await uow.artifacts.get(artifact_id)
        if artifact is None:
            raise ArtifactNotFound(f"Artifact {artifact_id} not found")
        return artifact.room_id

    async def update(
        self,
        artifact_id: str,
        changed_by: str,
        title: str | None = None,
        content: dict[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> Artifact:
        """The next revision: a new title and/or content (tasks merge, others replace)."""
        if title is not None:
            title = check_title(title)

        def revise(current: Artifact) -> tuple[str, dict[str, Any]]:
            return (
                current.title if title is None else title,
                patched_content(current.type, current.content, content),
            )

        return await self._revise(artifact_id, changed_by, expected_version, revise)

    async def restore(
        self,
        artifact_id: str,
        version: int,
        changed_by: str,
        expected_version: int | None = None,
    ) -> Artifact:
        """A new revision whose title and content are those of ``version`` (history is kept)."""
        old = await self.version(artifact_id, version)

        def revise(current: Artifact) -> tuple[str, dict[str, Any]]:
            return old.title, check_content(current.type, old.content)

        return await self._revise(artifact_id, changed_by, expected_version, revise)

    async def _revise(
        self, artifact_id: str, changed_by: str, expected_version: int | None, revise: Revision
    ) -> Artifact:
        attempt = 0
        while True:
            attempt += 1
            locked = attempt > OPTIMISTIC_ATTEMPTS
            async with self._uow() as uow:
                current = _live(
                    await uow.artifacts.get(artifact_id, lock="update" if locked else None),
                    artifact_id,
                )
                if expected_version is not None and expected_version != current.version:
                    raise VersionConflict(current.version)
                title, content = revise(current)
                revised = current.changed(title, content, changed_by, self._clock())
                if not await uow.artifacts.update_if_version(revised, current.version):
                    if locked:  # pragma: no cover - a locked row cannot change under us
                        raise VersionConflict(current.version)
                    continue  # another writer committed first: recompute on its state
                await uow.artifacts.add_version(ArtifactVersion.of(revised))
                await uow.publish(artifact_changed(revised))
                await uow.commit()
                return revised

    async def delete(
        self,
        artifact_id: str,
        deleted_by: str,
        platform_role: str,
        resource_role: str | None,
        *,
        hard: bool = False,
    ) -> None:
        """Hide an artifact, or (staff only) erase it with its history; soft-deleted ones too."""
        if hard and not may_hard_delete(platform_role, resource_role):
            raise HardDeleteForbidden("Only course staff and admins may hard-delete artifacts")
        async with self._uow() as uow:
            artifact = await uow.artifacts.get(artifact_id)
            if hard:
                erased = artifact is not None and await uow.artifacts.hard_delete(artifact_id)
            else:
                erased = (
                    artifact is not None
                    and not artifact.is_deleted
                    and await uow.artifacts.soft_delete(artifact_id)
                )
            if artifact is None or not erased:  # missing, already gone, or a racing delete won
                raise ArtifactNotFound(f"Artifact {artifact_id} not found")
            await uow.publish(artifact_deleted(artifact, deleted_by, hard=hard))
            await uow.commit()

    async def versions(self, artifact_id: str) -> list[ArtifactVersion]:
        """The history of a live artifact, newest first."""
        async with self._uow() as uow:
            _live(await uow.artifacts.get(artifact_id), artifact_id)
            return await uow.artifacts.versions(artifact_id)

    async def version(self, artifact_id: str, version: int) -> ArtifactVersion:
        """One revision of a live artifact."""
        async with self._uow() as uow:
            _live(await uow.artifacts.get(artifact_id), artifact_id)
            found = await uow.artifacts.version(artifact_id, version)
        if found is None:
            raise VersionNotFound(f"Artifact {artifact_id} has no version {version}")
        return found
