"""Workflow documents and their immutable versions: pure types and access rules (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coagent_kit.errors import Forbidden, NotFound, Unprocessable

#: Platform roles that may read and write every workflow (same set as the agents' rules).
ADMIN_ROLES = frozenset({"admin", "super_admin"})
#: Course roles that may change what a room runs (the gateway checks ROOM_UPDATE too).
ROOM_STAFF = frozenset({"owner", "teacher", "ta"})


class WorkflowNotFound(NotFound):
    code = "workflow_not_found"


class WorkflowVersionNotFound(NotFound):
    code = "workflow_version_not_found"


class WorkflowNotRunnable(Unprocessable):
    code = "workflow_not_runnable"


class WorkflowInactive(Unprocessable):
    code = "workflow_inactive"


class NotRoomStaff(Forbidden):
    code = "not_room_staff"


@dataclass(frozen=True)
class Caller:
    """Who asks, as the gateway signed it; ``resource_role`` is the course role on room routes."""

    user_id: str
    platform_role: str
    resource_role: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.platform_role in ADMIN_ROLES


@dataclass(frozen=True)
class Workflow:
    """A named workflow; ``current_version`` is the version runs started now execute.

    ``limits`` mirrors the current version's run limits so an editor save that omits them (the
    reference editor does not know about limits) keeps the ones already set.
    """

    id: str
    name: str
    created_by: str | None
    is_active: bool
    current_version: int
    limits: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class WorkflowVersion:
    """One immutable graph of a workflow, in the canonical (``schema_version`` 1) shape."""

    workflow_id: str
    version: int
    graph: dict[str, Any]
    created_by: str | None
    created_at: datetime


def can_access(caller: Caller, workflow: Workflow) -> bool:
    """Owners and admins only; everyone else is told the workflow does not exist (no oracle)."""
    return caller.is_admin or (
        workflow.created_by is not None and workflow.created_by == caller.user_id
    )
