"""Prometheus metrics: the ``/metrics`` endpoint and per-route HTTP request metrics."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.routing import Match

HTTP_REQUESTS = Counter(
    "coagent_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "coagent_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)


def metrics_router() -> APIRouter:
    """``GET /metrics`` in the Prometheus text format."""
    router = APIRouter(tags=["health"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


def install_request_metrics(app: FastAPI, service: str) -> None:
    """Count and time requests by route template (not raw path, to bound label cardinality)."""

    @app.middleware("http")
    async def record(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = _route_template(app, request)
        HTTP_LATENCY.labels(service, request.method, route).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
        return response


def _route_template(app: FastAPI, request: Request) -> str:
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"
