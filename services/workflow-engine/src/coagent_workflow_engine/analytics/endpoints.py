"""``/api/v1/analytics/{course_id}``: course reports, served at the public paths.

The gateway decides who may read (course members) and who may generate (course staff), and
sends the course's room ids with a generation: this service knows rooms only by their history,
not which course they belong to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from coagent_kit.auth import Identity
from coagent_workflow_engine.analytics.domain import AnalyticsReport, ReportStatus
from coagent_workflow_engine.analytics.service import AnalyticsService

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(max_length=200)]


class GenerateRequest(BaseModel):
    """Sent by the gateway: the rooms of the course, and their names for the section titles."""

    model_config = ConfigDict(extra="forbid")

    room_ids: list[Id] = Field(default_factory=list, max_length=500)
    room_names: dict[Id, Name] = Field(default_factory=dict, max_length=500)


class ReportRead(BaseModel):
    """A report as the web client lists it; ``content`` is set only once it has succeeded."""

    id: str
    course_id: str
    content: str | None
    status: ReportStatus
    error: str | None
    created_at: datetime

    @classmethod
    def of(cls, report: AnalyticsReport) -> ReportRead:
        return cls(
            id=report.id,
            course_id=report.course_id,
            content=report.content if report.status == "succeeded" else None,
            status=report.status,
            error=report.error,
            created_at=report.created_at,
        )


class Queued(BaseModel):
    id: str
    status: ReportStatus


def _service(request: Request) -> AnalyticsService:
    service: AnalyticsService = request.app.state.analytics
    return service


@router.get("/{course_id}")
async def list_reports(course_id: str, identity: Identity, request: Request) -> list[ReportRead]:
    """The course's reports, newest first (at most 50)."""
    return [ReportRead.of(r) for r in await _service(request).of_course(course_id)]


@router.post("/{course_id}/generate", status_code=202)
async def generate_report(
    course_id: str, body: GenerateRequest, identity: Identity, request: Request
) -> Queued:
    """Queue a report; it is written in the background (poll the list for its status)."""
    report = await _service(request).request(
        course_id, body.room_ids, identity.user_id, body.room_names
    )
    return Queued(id=report.id, status=report.status)
