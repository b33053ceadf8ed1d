"""In-memory artifacts with the Postgres adapter's commit and conflict rules.

Writes are staged per unit of work and applied on commit; the conditional update compares with
what is visible to this unit (its own staged writes over the committed state), so a rival unit
that commits in between makes it miss exactly as the SQL ``WHERE version = :read`` would.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from coagent_chat.artifacts.domain import Artifact, ArtifactVersion
from coagent_chat.artifacts.ports import LockMode
from coagent_contracts.chat import ArtifactType

IdempotencyIndex = dict[tuple[str, str, str], str]


@dataclass
class MemoryArtifactState:
    """Committed artifacts, their history and the idempotency keys used to create them."""

    artifacts: dict[str, Artifact] = field(default_factory=dict)
    versions: dict[str, dict[int, ArtifactVersion]] = field(default_factory=dict)
    keys: IdempotencyIndex = field(default_factory=dict)


class MemoryArtifactRepository:
    """Stages writes; :meth:`apply` merges them into the state (the unit's commit)."""

    def __init__(self, state: MemoryArtifactState) -> None:
        self._state = state
        self._staged: dict[str, Artifact | None] = {}  # None = erased
        self._versions: list[ArtifactVersion] = []
        self._keys: IdempotencyIndex = {}

    def _visible(self, artifact_id: str) -> Artifact | None:
        if artifact_id in self._staged:
            return self._staged[artifact_id]
        return self._state.artifacts.get(artifact_id)

    async def add(self, artifact: Artifact, idempotency_key: str | None) -> bool:
        if idempotency_key is not None:
            key = (artifact.room_id, artifact.created_by, idempotency_key)
            if key in self._state.keys or key in self._keys:
                return False
            self._keys[key] = artifact.id
        self._staged[artifact.id] = artifact
        return True

    async def by_idempotency_key(
        self, room_id: str, created_by: str, idempotency_key: str
    ) -> Artifact | None:
        key = (room_id, created_by, idempotency_key)
        artifact_id = self._keys.get(key) or self._state.keys.get(key)
        return None if artifact_id is None else self._visible(artifact_id)

    async def get(self, artifact_id: str, *, lock: LockMode | None = None) -> Artifact | None:
        # Units never interleave inside one call here, so a lock has nothing to exclude.
        return self._visible(artifact_id)

    async def list_room(
        self, room_id: str, artifact_type: ArtifactType | None, limit: int, include_deleted: bool
    ) -> list[Artifact]:
        ids = {*self._state.artifacts, *self._staged}
        found = [
            a
            for a in (self._visible(i) for i in ids)
            if a is not None
            and a.room_id == room_id
            and (artifact_type is None or a.type == artifact_type)
            and (include_deleted or not a.is_deleted)
        ]
        found.sort(key=lambda a: (a.created_at, a.id), reverse=True)
        return found[:limit]

    async def update_if_version(self, artifact: Artifact, read_version: int) -> bool:
        current = self._visible(artifact.id)
        if current is None or current.is_deleted or current.version != read_version:
            return False
        self._staged[artifact.id] = artifact
        return True

    async def soft_delete(self, artifact_id: str) -> bool:
        current = self._visible(artifact_id)
        if current is None or current.is_deleted:
            return False
        self._staged[artifact_id] = replace(current, is_deleted=True)
        return True

    async def hard_delete(self, artifact_id: str) -> bool:
        if self._visible(artifact_id) is None:
            return False
        self._staged[artifact_id] = None
        return True

    async def add_version(self, version: ArtifactVersion) -> None:
        if version.version in self._state.versions.get(version.artifact_id, {}) or any(
            (v.artifact_id, v.version) == (version.artifact_id, version.version)
            for v in self._versions
        ):
            raise ValueError(f"duplicate version {version.version} of {version.artifact_id}")
        self._versions.append(version)

    async def versions(self, artifact_id: str) -> list[ArtifactVersion]:
        history = dict(self._state.versions.get(artifact_id, {}))
        history.update({v.version: v for v in self._versions if v.artifact_id == artifact_id})
        return [history[n] for n in sorted(history, reverse=True)]

    async def version(self, artifact_id: str, version: int) -> ArtifactVersion | None:
        return next((v for v in await self.versions(artifact_id) if v.version == version), None)

    def apply(self) -> None:
        """Make this unit's writes visible to every later unit."""
        state = self._state
        for version in self._versions:
            state.versions.setdefault(version.artifact_id, {})[version.version] = version
        for artifact_id, artifact in self._staged.items():
            if artifact is None:  # erased with its history, like ON DELETE CASCADE
                state.artifacts.pop(artifact_id, None)
                state.versions.pop(artifact_id, None)
                state.keys = {k: v for k, v in state.keys.items() if v != artifact_id}
            else:
                state.artifacts[artifact_id] = artifact
        state.keys.update(self._keys)
