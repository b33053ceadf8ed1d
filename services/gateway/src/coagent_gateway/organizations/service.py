"""Organization and project use cases, decided by :mod:`coagent_gateway.policy`."""

from __future__ import annotations

import uuid

from coagent_contracts.envelope import utc_now
from coagent_gateway.domain import User
from coagent_gateway.organizations.domain import (
    Organization,
    OrganizationNotFound,
    Project,
    ProjectNotFound,
)
from coagent_gateway.organizations.ports import OrganizationStore
from coagent_gateway.policy import ADMIN_ROLES, Action, Kind, Resource, can, require


class OrganizationService:
    """Organizations and projects for an authenticated caller."""

    def __init__(self, store: OrganizationStore) -> None:
        self._store = store

    async def organization(
        self, user: User, org_id: str, action: Action = Action.ORG_READ
    ) -> Organization:
        """The organization if ``user`` may read it (404 otherwise) and take ``action`` (403)."""
        org = await self._store.get_organization(org_id)
        if org is None:
            raise OrganizationNotFound("Organization not found")
        role = await self._store.organization_role(org_id, user.id)
        resource = Resource(Kind.ORGANIZATION, org_id, owner_id=org.owner_id, membership=role)
        if not can(user, Action.ORG_READ, resource):
            raise OrganizationNotFound("Organization not found")
        require(user, action, resource)
        return org

    async def organizations(self, user: User) -> list[Organization]:
        """Admins see every organization; others those they belong to."""
        admin = user.platform_role in ADMIN_ROLES
        return await self._store.list_organizations(None if admin else user.id)

    async def create_organization(
        self, user: User, name: str, description: str | None
    ) -> Organization:
        require(user, Action.ORG_CREATE)
        org = Organization(str(uuid.uuid4()), name, description, user.id, utc_now())
        await self._store.create_organization(org, user.id)
        return org

    async def project(self, user: User, project_id: str) -> Project:
        """The project if ``user`` may read it; 404 otherwise."""
        project = await self._store.get_project(project_id)
        if project is None:
            raise ProjectNotFound("Project not found")
        role = await self._store.project_role(project_id, user.id)
        if not can(user, Action.PROJECT_READ, Resource(Kind.PROJECT, project_id, membership=role)):
            raise ProjectNotFound("Project not found")
        return project

    async def projects(self, user: User, org_id: str | None) -> list[Project]:
        """Projects ``user`` belongs to (every project for admins), optionally of one org."""
        if org_id is not None:
            await self.organization(user, org_id)
        admin = user.platform_role in ADMIN_ROLES
        return await self._store.list_projects(None if admin else user.id, org_id)

    async def create_project(
        self, user: User, org_id: str, name: str, description: str | None
    ) -> Project:
        """Members of the organization create projects in it."""
        await self.organization(user, org_id, Action.PROJECT_CREATE)
        project = Project(str(uuid.uuid4()), org_id, name, description, utc_now())
        await self._store.create_project(project, user.id)
        return project
