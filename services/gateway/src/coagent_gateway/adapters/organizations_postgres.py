"""PostgreSQL adapter of organizations, projects and their member links."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_gateway.adapters.postgres import (
    organization_members,
    organizations,
    project_members,
    projects,
)
from coagent_gateway.organizations.domain import Organization, Project


def _org(row: Any) -> Organization:
    return Organization(row.id, row.name, row.description, row.owner_id, row.created_at)


def _project(row: Any) -> Project:
    return Project(row.id, row.organization_id, row.name, row.description, row.created_at)


class PostgresOrganizationStore:
    """Organizations and projects; a creator's owner link commits with what they created."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create_organization(self, org: Organization, owner_id: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                organizations.insert().values(
                    id=org.id,
                    name=org.name,
                    description=org.description,
                    owner_id=org.owner_id,
                    created_at=org.created_at,
                )
            )
            await session.execute(
                organization_members.insert().values(
                    organization_id=org.id, user_id=owner_id, role="owner"
                )
            )

    async def get_organization(self, org_id: str) -> Organization | None:
        query = select(organizations).where(organizations.c.id == org_id)
        async with self._sessions() as session:
            row = (await session.execute(query)).first()
        return _org(row) if row else None

    async def list_organizations(self, member_id: str | None) -> list[Organization]:
        query = select(organizations).order_by(organizations.c.name, organizations.c.id)
        if member_id is not None:
            query = query.join(
                organization_members,
                organization_members.c.organization_id == organizations.c.id,
            ).where(organization_members.c.user_id == member_id)
        async with self._sessions() as session:
            return [_org(r) for r in await session.execute(query)]

    async def organization_role(self, org_id: str, user_id: str) -> str | None:
        query = select(organization_members.c.role).where(
            organization_members.c.organization_id == org_id,
            organization_members.c.user_id == user_id,
        )
        async with self._sessions() as session:
            role: str | None = await session.scalar(query)
        return role

    async def create_project(self, project: Project, owner_id: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                projects.insert().values(
                    id=project.id,
                    organization_id=project.organization_id,
                    name=project.name,
                    description=project.description,
                    created_at=project.created_at,
                )
            )
            await session.execute(
                project_members.insert().values(
                    project_id=project.id, user_id=owner_id, role="owner"
                )
            )

    async def get_project(self, project_id: str) -> Project | None:
        query = select(projects).where(projects.c.id == project_id)
        async with self._sessions() as session:
            row = (await session.execute(query)).first()
        return _project(row) if row else None

    async def list_projects(self, member_id: str | None, org_id: str | None) -> list[Project]:
        query = select(projects).order_by(projects.c.name, projects.c.id)
        if member_id is not None:
            query = query.join(
                project_members, project_members.c.project_id == projects.c.id
            ).where(project_members.c.user_id == member_id)
        if org_id is not None:
            query = query.where(projects.c.organization_id == org_id)
        async with self._sessions() as session:
            return [_project(r) for r in await session.execute(query)]

    async def project_role(self, project_id: str, user_id: str) -> str | None:
        query = select(project_members.c.role).where(
            project_members.c.project_id == project_id, project_members.c.user_id == user_id
        )
        async with self._sessions() as session:
            role: str | None = await session.scalar(query)
        return role
