"""A read-only browser over the gateway's own tables, for super admins.

Secrets never leave: columns named like a password, hash, secret or token are dropped from every
row, and only the tables listed here can be read at all.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_gateway.adapters.postgres import metadata

BROWSABLE = (
    "users",
    "organizations",
    "organization_members",
    "projects",
    "project_members",
    "courses",
    "course_members",
    "announcements",
    "rooms",
    "room_members",
    "api_keys",
    "audit_log",
)
SECRET_COLUMN = re.compile(r"password|hash|secret|token", re.IGNORECASE)
TIME_COLUMNS = ("created_at", "at")


class PostgresTableBrowser:
    """Pages of allow-listed tables, newest first, without secret columns."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._tables = {n: metadata.tables[n] for n in BROWSABLE if n in metadata.tables}

    def tables(self) -> list[str]:
        """The names that can be browsed."""
        return sorted(self._tables)

    async def rows(
        self,
        name: str,
        *,
        limit: int,
        offset: int,
        search: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[dict[str, Any]] | None:
        """A page of ``name`` (None if the table cannot be browsed)."""
        table = self._tables.get(name)
        if table is None:
            return None
        columns = [c for c in table.columns if not SECRET_COLUMN.search(c.name)]
        statement = select(*columns).limit(limit).offset(offset)
        time_column = next((table.c[t] for t in TIME_COLUMNS if t in table.c), None)
        if time_column is not None:
            statement = statement.order_by(time_column.desc())
            if start is not None:
                statement = statement.where(time_column >= start)
            if end is not None:
                statement = statement.where(time_column <= end)
        if search:
            statement = statement.where(_matches(columns, search))
        async with self._sessions() as session:
            result = await session.execute(statement)
            return [dict(row) for row in result.mappings()]


def _matches(columns: list[Any], text: str) -> Any:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(*(cast(c, String).ilike(f"%{escaped}%", escape="\\") for c in columns))
