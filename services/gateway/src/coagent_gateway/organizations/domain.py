"""Organizations and projects: pure types and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from coagent_kit.errors import NotFound

OrgRole = Literal["owner", "admin", "member"]
ProjectRole = Literal["owner", "admin", "editor", "member"]


class OrganizationNotFound(NotFound):
    # Also raised for organizations the caller may not see: their existence is not revealed.
    code = "organization_not_found"


class ProjectNotFound(NotFound):
    code = "project_not_found"


@dataclass(frozen=True)
class Organization:
    """A workspace owning projects; its creator is its owner."""

    id: str
    name: str
    description: str | None
    owner_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Project:
    """A project of an organization; its creator is its owner."""

    id: str
    organization_id: str
    name: str
    description: str | None
    created_at: datetime
