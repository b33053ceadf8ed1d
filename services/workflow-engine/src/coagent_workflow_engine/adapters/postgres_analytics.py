"""PostgreSQL: analytics reports (migration 0006)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, String, Table, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_workflow_engine.adapters.postgres import metadata
from coagent_workflow_engine.analytics.domain import AnalyticsReport

_ID = String(64)

analytics_reports = Table(
    "analytics_reports",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("course_id", _ID, nullable=False),
    Column("status", String(16), nullable=False),
    Column("content", Text),
    Column("error", Text),
    Column("created_by", _ID),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_analytics_reports_course_id_created_at", "course_id", "created_at"),
)


class PostgresReportStore:
    """Each method runs in its own short transaction (see ``ReportStore``)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, report: AnalyticsReport) -> None:
        values = {c.name: getattr(report, c.name) for c in analytics_reports.c}
        async with self._sessions.begin() as session:
            await session.execute(analytics_reports.insert().values(**values))

    async def finish(self, report: AnalyticsReport) -> None:
        statement = (
            update(analytics_reports)
            .where(analytics_reports.c.id == report.id)
            .values(status=report.status, content=report.content, error=report.error)
        )
        async with self._sessions.begin() as session:
            await session.execute(statement)

    async def of_course(self, course_id: str, limit: int) -> list[AnalyticsReport]:
        statement = (
            select(analytics_reports)
            .where(analytics_reports.c.course_id == course_id)
            .order_by(analytics_reports.c.created_at.desc(), analytics_reports.c.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(statement)).mappings().all()
        return [AnalyticsReport(**row) for row in rows]
