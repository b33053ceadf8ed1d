"""Analytics reports in memory, for tests and the memory-backed app."""

from __future__ import annotations

from dataclasses import replace

from coagent_workflow_engine.analytics.domain import AnalyticsReport


class MemoryReportStore:
    """Reports by id; ordering by creation time like the Postgres store."""

    def __init__(self) -> None:
        self.reports: dict[str, AnalyticsReport] = {}

    async def add(self, report: AnalyticsReport) -> None:
        self.reports[report.id] = report

    async def finish(self, report: AnalyticsReport) -> None:
        current = self.reports.get(report.id)
        if current is not None:
            self.reports[report.id] = replace(
                current, status=report.status, content=report.content, error=report.error
            )

    async def of_course(self, course_id: str, limit: int) -> list[AnalyticsReport]:
        mine = [r for r in self.reports.values() if r.course_id == course_id]
        mine.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return mine[:limit]
