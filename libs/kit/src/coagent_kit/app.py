"""The FastAPI application every service starts from.

Errors, request ids, tracing, health and metrics are installed the same way in every service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from coagent_kit.auth import IdentityVerifier
from coagent_kit.errors import install_error_handlers
from coagent_kit.health import Check, Readiness, health_router
from coagent_kit.metrics import metrics_router
from coagent_kit.requests import REQUEST_ID_HEADER, RequestMiddleware
from coagent_kit.settings import ServiceSettings
from coagent_kit.tracing import tracer_provider

__all__ = ["REQUEST_ID_HEADER", "Lifespan", "build_app", "no_lifespan"]

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
    app.add_middleware(RequestMiddleware, service=name)
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


async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    """A lifespan for services with nothing to start (tests)."""
    yield
