"""Values PostgreSQL refuses to store are the caller's mistake (422), not a server error."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from coagent_kit.errors import error_body
from coagent_kit.logging import get_logger

log = get_logger(__name__)

#: SQLSTATE class 22, "data exception": the value itself is unacceptable, e.g. a NUL character in
#: text (22021) or JSON (22P05). Any text field, query or path parameter can carry one.
DATA_EXCEPTION_CLASS = "22"


def is_data_exception(exc: DBAPIError) -> bool:
    """Whether PostgreSQL refused the statement because of a value it was given."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(DATA_EXCEPTION_CLASS)


async def _data_exception(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, DBAPIError) or not is_data_exception(exc):
        raise exc  # a real server error: rendered (and logged) as a 500 by the kit
    log.info("invalid_input_refused_by_postgres", sqlstate=getattr(exc.orig, "sqlstate", None))
    return JSONResponse(
        error_body(
            "Invalid input: a value cannot be stored (e.g. a NUL character)", "invalid_input"
        ),
        422,
    )


def install_data_exception_handler(app: FastAPI) -> None:
    """Answer 422 ``invalid_input`` when PostgreSQL rejects a value the request carried."""
    app.add_exception_handler(DBAPIError, _data_exception)
