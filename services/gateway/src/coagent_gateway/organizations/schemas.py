"""HTTP shapes of the organization and project routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from coagent_gateway.organizations.domain import Organization, Project


class OrganizationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)


class OrganizationRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    description: str | None
    owner_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, org: Organization) -> OrganizationRead:
        return cls(
            id=org.id,
            name=org.name,
            description=org.description,
            owner_id=org.owner_id,
            created_at=org.created_at,
        )


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    organization_id: str = Field(min_length=1, max_length=64)


class ProjectRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    description: str | None
    organization_id: str
    created_at: datetime

    @classmethod
    def of(cls, project: Project) -> ProjectRead:
        return cls(
            id=project.id,
            name=project.name,
            description=project.description,
            organization_id=project.organization_id,
            created_at=project.created_at,
        )
