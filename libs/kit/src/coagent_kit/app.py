"""The FastAPI application every service starts from.

Errors, request ids, tracing, health and metrics are installed the same way in every service.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager

import structlog
from fastapi import FastAPI, Request, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from coagent_kit.auth import IdentityVerifier
from coagent_kit.errors import _unhandled, install_error_handlers
from coagent_kit.health import Check, Readiness, health_router
from coagent_kit.metrics import install_request_metrics, metrics_router
from coagent_kit.settings import ServiceSettings
from coagent_kit.tracing import tracer_provider

REQUEST_ID_HEADER = "X-Request-ID"
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def build_app(
    settings: ServiceSettings,
    *,
    title: str,
    lifespan: Lifespan | None = None,
    checks: Mapping[str, Check] | None = None,
    docs_url: str = "/docs",
    openapi_url: str = "/openapi.json",
) -> FastAPI:
    """A service app with the fleet-wide plumbing installed; routers are added by the caller."""
    name = settings.service_name
    app = FastAPI(
        title=title,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=docs_url,
        openapi_url=openapi_url,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.identity_verifier = IdentityVerifier(
        settings.internal_token_secret.get_secret_value(), audience=name
    )
    app.state.readiness = Readiness(checks or {})
    install_error_handlers(app)
    # The last middleware added runs outermost: metrics then see the 500 that request-id renders.
    _install_request_id(app)
    install_request_metrics(app, name)
    app.include_router(health_router(name, app.state.readiness))
    app.include_router(metrics_router())
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider(),
        excluded_urls="healthz,readyz,metrics",
        # One server span per request. The ASGI ``http send``/``http receive`` child spans (one per
        # message exchanged with the server: two or three per request) carried nothing the server
        # span lacks, and creating and ending them was the costliest part of tracing a request.
        exclude_spans=["receive", "send"],
    )
    return app


def _install_request_id(app: FastAPI) -> None:
    """Accept or mint a request id, bind it to every log line, and echo it back."""

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        with structlog.contextvars.bound_contextvars(request_id=rid):
            try:
                response = await call_next(request)
            except Exception as exc:
                # Rendered here, not by Starlette's outermost handler, so the 500 is logged with
                # the request id, echoes it, and is counted by the request metrics.
                response = await _unhandled(request, exc)
        response.headers[REQUEST_ID_HEADER] = rid
        return response


async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    """A lifespan for services with nothing to start (tests)."""
    yield
