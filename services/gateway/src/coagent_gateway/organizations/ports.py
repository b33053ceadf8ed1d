"""What the organizations feature needs from storage."""

from __future__ import annotations

from typing import Protocol

from coagent_gateway.organizations.domain import Organization, Project


class OrganizationStore(Protocol):
    """Organizations, projects and their member links."""

    async def create_organization(self, org: Organization, owner_id: str) -> None:
        """Insert ``org`` with ``owner_id`` as its owner."""
        ...

    async def get_organization(self, org_id: str) -> Organization | None:
        """The organization, or None."""
        ...

    async def list_organizations(self, member_id: str | None) -> list[Organization]:
        """Organizations ``member_id`` belongs to (all when None), by name."""
        ...

    async def organization_role(self, org_id: str, user_id: str) -> str | None:
        """``user_id``'s role in the organization, None when not a member."""
        ...

    async def create_project(self, project: Project, owner_id: str) -> None:
        """Insert ``project`` with ``owner_id`` as its owner."""
        ...

    async def get_project(self, project_id: str) -> Project | None:
        """The project, or None."""
        ...

    async def list_projects(self, member_id: str | None, org_id: str | None) -> list[Project]:
        """Projects ``member_id`` belongs to (all when None), optionally of one organization."""
        ...

    async def project_role(self, project_id: str, user_id: str) -> str | None:
        """``user_id``'s role in the project, None when not a member."""
        ...
