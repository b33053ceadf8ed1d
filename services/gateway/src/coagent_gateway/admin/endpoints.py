"""``/api/v1/admin/db``: the reference client's table browser, read-only and for super admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from coagent_gateway.adapters.admin_postgres import PostgresTableBrowser
from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.policy import Action, require
from coagent_kit.errors import NotFound

router = APIRouter(prefix="/api/v1/admin/db", tags=["admin"])


def _browser(request: Request) -> PostgresTableBrowser:
    browser: PostgresTableBrowser = request.app.state.table_browser
    return browser


@router.get("/tables")
async def list_tables(request: Request, user: CurrentUser) -> list[str]:
    """The tables a super admin may browse."""
    require(user, Action.ADMIN_DB_READ)
    return _browser(request).tables()


@router.get("/tables/{table_name}")
async def browse_table(
    request: Request,
    table_name: str,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    search: Annotated[str | None, Query(max_length=200)] = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
) -> list[dict[str, Any]]:
    """Rows of one table, newest first; secret columns are never included."""
    require(user, Action.ADMIN_DB_READ)
    rows = await _browser(request).rows(
        table_name, limit=limit, offset=offset, search=search, start=start_date, end=end_date
    )
    if rows is None:
        raise NotFound(f"No browsable table {table_name!r}", code="table_not_found")
    return rows
