"""An analytics report and its life: queued when asked for, then succeeded or failed.

A failure is kept as ``status="failed"`` with its error, never as report content, so a provider
error can never be mistaken for (or shown as) an analysis of the course.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

ReportStatus = Literal["queued", "succeeded", "failed"]


@dataclass(frozen=True)
class AnalyticsReport:
    """One report on a course; ``content`` (Markdown) is set only once it has succeeded."""

    id: str
    course_id: str
    status: ReportStatus
    created_by: str | None
    created_at: datetime
    content: str | None = None
    error: str | None = None


class ReportStore(Protocol):
    """Where reports are kept. Each call is its own transaction: a report is written twice
    (queued, then finished) by different tasks, and nothing else changes with it."""

    async def add(self, report: AnalyticsReport) -> None: ...

    async def finish(self, report: AnalyticsReport) -> None:
        """Store the final status, content and error of an existing report."""
        ...

    async def of_course(self, course_id: str, limit: int) -> list[AnalyticsReport]:
        """The course's latest ``limit`` reports, newest first."""
        ...
