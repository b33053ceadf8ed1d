"""What the artifact use cases need from storage (the Postgres and memory adapters)."""

from __future__ import annotations

from typing import Literal, Protocol

from coagent_chat.artifacts.domain import Artifact, ArtifactVersion
from coagent_contracts.chat import ArtifactType

#: Row lock taken by a read: ``share`` keeps the row from being erased (a parent being referenced),
#: ``update`` serialises writers (the fallback after optimistic misses).
LockMode = Literal["share", "update"]


class ArtifactRepository(Protocol):
    """Artifacts and their history inside one unit of work.

    Writes are conditional so the service can detect a concurrent writer instead of overwriting it.
    """

    async def add(self, artifact: Artifact, idempotency_key: str | None) -> bool:
        """Insert ``artifact``; False (and nothing stored) if its creator already used the key
        in that room."""
        ...

    async def by_idempotency_key(
        self, room_id: str, created_by: str, idempotency_key: str
    ) -> Artifact | None:
        """The artifact created with this key by this user in this room, if any."""
        ...

    async def get(self, artifact_id: str, *, lock: LockMode | None = None) -> Artifact | None:
        """The artifact (soft-deleted ones too), optionally locked until the unit ends."""
        ...

    async def list_room(
        self, room_id: str, artifact_type: ArtifactType | None, limit: int, include_deleted: bool
    ) -> list[Artifact]:
        """A room's artifacts, newest first (``created_at`` desc, then id desc)."""
        ...

    async def update_if_version(self, artifact: Artifact, read_version: int) -> bool:
        """Store ``artifact``'s title, content, version and editor only if the stored row is
        still at ``read_version`` and not deleted; False if another writer got there first."""
        ...

    async def soft_delete(self, artifact_id: str) -> bool:
        """Hide a live artifact; False if it is missing or already hidden."""
        ...

    async def hard_delete(self, artifact_id: str) -> bool:
        """Erase the artifact and its history; False if there was no row."""
        ...

    async def add_version(self, version: ArtifactVersion) -> None:
        """Append a history entry (unique per artifact and version)."""
        ...

    async def versions(self, artifact_id: str) -> list[ArtifactVersion]:
        """History of an artifact, newest first."""
        ...

    async def version(self, artifact_id: str, version: int) -> ArtifactVersion | None:
        """One history entry."""
        ...
