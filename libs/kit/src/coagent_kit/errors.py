"""Typed service errors and the one handler that renders every error as ``{"detail", "code"}``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from coagent_kit.logging import get_logger

log = get_logger(__name__)


class ServiceError(Exception):
    """Base of every error a service raises on purpose. Subclasses fix ``status`` and ``code``."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def headers(self) -> dict[str, str] | None:
        """Extra response headers (e.g. ``WWW-Authenticate``)."""
        return None


class BadRequest(ServiceError):
    status, code = 400, "bad_request"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class Unprocessable(ServiceError):
    status, code = 422, "unprocessable"


class TooManyRequests(ServiceError):
    status, code = 429, "rate_limited"


class DependencyUnavailable(ServiceError):
    status, code = 503, "dependency_unavailable"


def _status_code_name(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


def error_body(detail: Any, code: str) -> dict[str, Any]:
    """The one error shape of the fleet."""
    return {"detail": detail, "code": code}


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    if exc.status >= 500:
        log.error("service_error", code=exc.code, detail=exc.detail)
    return JSONResponse(error_body(exc.detail, exc.code), exc.status, headers=exc.headers())


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        error_body(exc.detail, _status_code_name(exc.status_code)),
        exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # FastAPI's list (each item with loc and msg) is kept so existing clients keep working.
    return JSONResponse(error_body(jsonable_encoder(exc.errors()), "validation_error"), 422)


async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return JSONResponse(error_body("Internal server error", "internal_error"), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` in the fleet's shape."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)
