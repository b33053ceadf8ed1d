"""Room artifacts: pure types and rules (no I/O).

Three kinds share one shape: a ``task`` on the room board, a ``doc`` (editor JSON) and a ``process``
(diagram nodes and edges). Only task content has a schema the fleet relies on (status and priority
drive the board), so only tasks are validated beyond size, and only tasks merge partial updates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, get_args

from coagent_contracts.chat import ArtifactType
from coagent_kit.errors import Conflict, Forbidden, NotFound, Unprocessable

ARTIFACT_TYPES: Final = frozenset(get_args(ArtifactType))
TASK_STATUSES: Final = ("todo", "in_progress", "review", "done")
TASK_PRIORITIES: Final = ("low", "medium", "high")
DEFAULT_TASK_STATUS: Final = "todo"
MAX_TITLE_CHARS: Final = 500
#: Content is stored as one JSONB value and travels whole in every event; bound it.
MAX_CONTENT_BYTES: Final = 256 * 1024
#: Platform roles and course roles that may erase an artifact and its history for good.
HARD_DELETE_PLATFORM_ROLES: Final = frozenset({"super_admin", "admin"})
HARD_DELETE_RESOURCE_ROLES: Final = frozenset({"owner", "teacher", "ta"})


class InvalidArtifact(Unprocessable):
    code = "invalid_artifact"


class InvalidParent(Unprocessable):
    code = "invalid_parent"


class ArtifactNotFound(NotFound):
    code = "artifact_not_found"


class VersionNotFound(NotFound):
    code = "version_not_found"


class HardDeleteForbidden(Forbidden):
    code = "hard_delete_forbidden"


class VersionConflict(Conflict):
    """The artifact moved on; the client must re-read. Carries the version it is at now."""

    code = "version_conflict"

    def __init__(self, current_version: int, detail: str | None = None) -> None:
        super().__init__(
            detail
            or f"Version conflict: the artifact is at version {current_version}; refresh and retry."
        )
        self.current_version = current_version


@dataclass(frozen=True)
class Artifact:
    """The current state of an artifact; ``version`` grows by one with every change."""

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
    is_deleted: bool = False

    def changed(
        self, title: str, content: dict[str, Any], by: str | None, at: datetime
    ) -> Artifact:
        """The next revision with ``title`` and ``content``."""
        return replace(
            self,
            title=title,
            content=content,
            version=self.version + 1,
            last_modified_by=by,
            updated_at=at,
        )


@dataclass(frozen=True)
class ArtifactVersion:
    """One revision in an artifact's history (version 1 is the creation)."""

    artifact_id: str
    version: int
    title: str
    content: dict[str, Any]
    changed_by: str | None
    changed_at: datetime

    @classmethod
    def of(cls, artifact: Artifact) -> ArtifactVersion:
        """The history entry recording ``artifact``'s current revision."""
        return cls(
            artifact_id=artifact.id,
            version=artifact.version,
            title=artifact.title,
            content=artifact.content,
            changed_by=artifact.last_modified_by or artifact.created_by,
            changed_at=artifact.updated_at,
        )


def check_type(artifact_type: str) -> ArtifactType:
    """``artifact_type`` if it is one of the known kinds."""
    if artifact_type not in ARTIFACT_TYPES:
        raise InvalidArtifact(f"Invalid artifact type; must be one of {sorted(ARTIFACT_TYPES)}")
    return artifact_type  # type: ignore[return-value]


def check_title(title: str) -> str:
    """A non-blank title of at most ``MAX_TITLE_CHARS`` characters."""
    if not title.strip():
        raise InvalidArtifact("An artifact needs a title")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidArtifact(f"A title holds at most {MAX_TITLE_CHARS} characters")
    return title


def check_content(artifact_type: ArtifactType, content: dict[str, Any]) -> dict[str, Any]:
    """Validated content; a task without a status gets ``todo``.

    Task ``priority`` may be null (a shallow merge cannot remove keys, so null is how a client
    clears it); other task keys (``assignee``, ``order``, …) are the client's business.
    """
    if artifact_type == "task":
        content = {"status": DEFAULT_TASK_STATUS, **content}
        if content["status"] not in TASK_STATUSES:
            raise InvalidArtifact(f"Task status must be one of {list(TASK_STATUSES)}")
        priority = content.get("priority")
        if priority is not None and priority not in TASK_PRIORITIES:
            raise InvalidArtifact(f"Task priority must be one of {list(TASK_PRIORITIES)}")
    try:
        size = len(json.dumps(content, ensure_ascii=False, allow_nan=False).encode())
    except ValueError as exc:  # NaN / Infinity cannot be stored as JSON
        raise InvalidArtifact(f"Content is not valid JSON: {exc}") from exc
    if size > MAX_CONTENT_BYTES:
        raise InvalidArtifact(f"Content holds at most {MAX_CONTENT_BYTES} bytes of JSON")
    return content


def patched_content(
    artifact_type: ArtifactType, current: dict[str, Any], patch: dict[str, Any] | None
) -> dict[str, Any]:
    """Content after an update: tasks shallow-merge (``{**old, **patch}``), others are replaced.

    The board sends only what moved (``{"status": "done"}``); replacing would wipe priority and
    order, which is the reference backend's bug. Docs and diagrams are always sent whole.
    """
    if patch is None:
        return current
    if artifact_type == "task":
        return check_content(artifact_type, {**current, **patch})
    return check_content(artifact_type, patch)


def may_hard_delete(platform_role: str, resource_role: str | None) -> bool:
    """Erasing history is for platform admins and the course's staff, never for students."""
    return (
        platform_role in HARD_DELETE_PLATFORM_ROLES or resource_role in HARD_DELETE_RESOURCE_ROLES
    )
