"""One pure ASGI middleware for what every request needs: a request id, its log context, a
rendered 500 for an unhandled error, and the request metrics.

Pure ASGI rather than ``@app.middleware("http")``: each of those wraps the response in memory
streams and a task group, which cost more per request than the work they did here.
"""

from __future__ import annotations

import time
import uuid

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coagent_kit.errors import _unhandled
from coagent_kit.metrics import HTTP_LATENCY, HTTP_REQUESTS

REQUEST_ID_HEADER = "X-Request-ID"


class RequestMiddleware:
    """Accept or mint a request id, bind it to every log line, echo it back, count the request.

    Requests are labelled by route template (the matched route's path, not the raw path) so the
    metrics' label cardinality stays bounded; a request no route matched is ``unmatched``.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = Headers(scope=scope).get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        status = 500
        started = False
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=rid):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                if started:
                    raise
                # Rendered here, not by Starlette's outermost handler, so the 500 is logged with
                # the request id, echoes it, and is counted below.
                response = await _unhandled(Request(scope), exc)
                await response(scope, receive, send_with_id)
            finally:
                self._record(scope, status, time.perf_counter() - began)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        route = str(getattr(scope.get("route"), "path", "unmatched"))
        method = scope["method"]
        HTTP_LATENCY.labels(self.service, method, route).observe(elapsed)
        HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
