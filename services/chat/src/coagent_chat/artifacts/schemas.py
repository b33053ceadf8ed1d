"""HTTP shapes of the artifact API (the reference client's ``Artifact``, frontend-client §4.9)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from coagent_chat.artifacts.domain import MAX_TITLE_CHARS, Artifact, ArtifactVersion
from coagent_contracts.chat import ArtifactType


class ArtifactCreate(BaseModel):
    """A new artifact in the room of the path."""

    type: ArtifactType
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    content: dict[str, Any] = Field(default_factory=dict)
    parent_artifact_id: str | None = Field(default=None, max_length=64)


class ArtifactUpdate(BaseModel):
    """A change: omitted (or null) fields stay; task content is merged, other content replaced."""

    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE_CHARS)
    content: dict[str, Any] | None = None
    expected_version: int | None = Field(
        default=None, ge=1, description="Fail with 409 unless the artifact is at this version"
    )


class ArtifactRestore(BaseModel):
    """Restore an old version, optionally only if the artifact is at ``expected_version``."""

    expected_version: int | None = Field(default=None, ge=1)


class ArtifactRead(BaseModel):
    """An artifact as the client stores it; ``version`` is compared with ``>=`` on live frames."""

    id: str
    room_id: str
    type: ArtifactType
    title: str
    content: dict[str, Any]
    version: int
    created_by: str
    last_modified_by: str | None
    parent_artifact_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, artifact: Artifact) -> ArtifactRead:
        """The HTTP view of an artifact (``is_deleted`` is never shown, as in the reference)."""
        return cls(
            id=artifact.id,
            room_id=artifact.room_id,
            type=artifact.type,
            title=artifact.title,
            content=artifact.content,
            version=artifact.version,
            created_by=artifact.created_by,
            last_modified_by=artifact.last_modified_by,
            parent_artifact_id=artifact.parent_artifact_id,
            created_at=artifact.created_at,
            updated_at=artifact.updated_at,
        )


class ArtifactVersionRead(BaseModel):
    """One entry of an artifact's history."""

    version: int
    title: str
    content: dict[str, Any]
    changed_by: str | None
    changed_at: datetime

    @classmethod
    def of(cls, version: ArtifactVersion) -> ArtifactVersionRead:
        """The HTTP view of a history entry."""
        return cls(
            version=version.version,
            title=version.title,
            content=version.content,
            changed_by=version.changed_by,
            changed_at=version.changed_at,
        )


class ArtifactRoom(BaseModel):
    """Which room an artifact belongs to (for the gateway's authorisation)."""

    room_id: str


class VersionConflictBody(BaseModel):
    """The 409 body: the fleet's error shape plus the version the artifact is at now."""

    detail: str
    code: str
    current_version: int
