"""Values PostgreSQL refuses to store are the caller's mistake (422), not a server error.

The same rule as the gateway's (a NUL character in a policy name, in conditions or in a path
id must not be a 500); it belongs in the kit, which this change does not touch.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from coagent_kit.errors import error_body

#: SQLSTATE class 22, "data exception": e.g. NUL in text (22021) or in JSON (22P05).
DATA_EXCEPTION_CLASS = "22"


async def _data_exception(_: Request, exc: Exception) -> JSONResponse:
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if not isinstance(sqlstate, str) or not sqlstate.startswith(DATA_EXCEPTION_CLASS):
        raise exc  # a real server error: rendered (and logged) as a 500 by the kit
    body = error_body(
        "Invalid input: a value cannot be stored (e.g. a NUL character)", "invalid_input"
    )
    return JSONResponse(body, 422)


def install_data_exception_handler(app: FastAPI) -> None:
    """Answer 422 ``invalid_input`` when PostgreSQL rejects a value the request carried."""
    app.add_exception_handler(DBAPIError, _data_exception)
