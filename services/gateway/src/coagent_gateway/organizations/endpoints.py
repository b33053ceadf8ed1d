"""``/api/v1/organizations`` and ``/api/v1/projects``.

Organizations and projects the caller does not belong to answer 404 (their existence is not
revealed); creating a project in an organization one cannot see answers 404 as well.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.organizations.schemas import (
    OrganizationCreate,
    OrganizationRead,
    ProjectCreate,
    ProjectRead,
)
from coagent_gateway.organizations.service import OrganizationService


def organization_service(request: Request) -> OrganizationService:
    """The app's :class:`OrganizationService`."""
    service: OrganizationService = request.app.state.organizations
    return service


Orgs = Annotated[OrganizationService, Depends(organization_service)]

router = APIRouter(prefix="/api/v1", tags=["organizations"])


@router.get("/organizations")
async def list_organizations(user: CurrentUser, orgs: Orgs) -> list[OrganizationRead]:
    """The organizations the caller belongs to (every one for admins)."""
    return [OrganizationRead.of(o) for o in await orgs.organizations(user)]


@router.post("/organizations", status_code=status.HTTP_201_CREATED)
async def create_organization(
    body: OrganizationCreate, user: CurrentUser, orgs: Orgs
) -> OrganizationRead:
    """The creator becomes the organization's owner."""
    return OrganizationRead.of(await orgs.create_organization(user, body.name, body.description))


@router.get("/organizations/{org_id}")
async def get_organization(org_id: str, user: CurrentUser, orgs: Orgs) -> OrganizationRead:
    return OrganizationRead.of(await orgs.organization(user, org_id))


@router.get("/projects")
async def list_projects(
    user: CurrentUser,
    orgs: Orgs,
    org_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> list[ProjectRead]:
    """The projects the caller belongs to, optionally of one organization."""
    return [ProjectRead.of(p) for p in await orgs.projects(user, org_id)]


@router.post("/projects", status_code=status.HTTP_201_CREATED)
async def create_project(body: ProjectCreate, user: CurrentUser, orgs: Orgs) -> ProjectRead:
    """Members of the organization; the creator becomes the project's owner."""
    project = await orgs.create_project(user, body.organization_id, body.name, body.description)
    return ProjectRead.of(project)


@router.get("/projects/{project_id}")
async def get_project(project_id: str, user: CurrentUser, orgs: Orgs) -> ProjectRead:
    return ProjectRead.of(await orgs.project(user, project_id))
