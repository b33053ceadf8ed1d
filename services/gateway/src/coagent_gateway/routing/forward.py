"""Pass a request through to an internal service and stream its answer back.

Authorisation happens before this (membership, policy); the service receives the caller's identity
as a signed token carrying the resolved role. Bodies flow in both directions without buffering,
so uploads and streamed answers (files, server-sent events) pass through unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_kit.auth import InternalIdentity
from coagent_kit.errors import BadRequest, ServiceError

#: Request headers a service may need; cookies and credentials never leave the gateway.
FORWARDED_REQUEST = ("content-type", "content-length", "accept", "idempotency-key", "last-event-id")
#: Response headers passed back; hop-by-hop and server-identifying ones are dropped.
FORWARDED_RESPONSE = (
    "content-type",
    "content-disposition",
    "cache-control",
    "etag",
    "last-modified",
    "location",
    "retry-after",
)
#: OpenAPI extension marking a route that forwards to a service; the merged public document uses
#: it to put the service's own operations in place of the route's generic one.
FORWARD_EXTENSION = "x-coagent-forward"


def forwarded_to(service: str, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    """``openapi_extra`` for a route forwarding (under the same path) to ``service``.

    ``headers`` are the request headers passed on besides :data:`FORWARDED_REQUEST`.
    """
    return {FORWARD_EXTENSION: {"service": service, "headers": list(headers)}}


def quoted_path(request: Request) -> str:
    """The request's path, re-encoded for the upstream URL.

    Ids may hold any character (the path arrives decoded), and the upstream must see exactly the
    path the client asked for. Dot segments (``..``, also sent as ``%2E%2E``) are refused: httpx
    would resolve them, and a path authorised as one route would reach another (even an internal
    one) with the caller's identity.
    """
    path = request.url.path
    if any(part in (".", "..") for part in path.split("/")):
        raise BadRequest("Paths may not contain '.' or '..' segments", code="invalid_path")
    return quote(path, safe="/:@!$&'()*+,;=-._~")


async def forward(
    request: Request,
    services: ServiceClient,
    service: str,
    path: str,
    identity: InternalIdentity,
    *,
    extra_headers: tuple[str, ...] = (),
    content: AsyncIterator[bytes] | None = None,
) -> StreamingResponse:
    """Send ``request`` to ``service`` at ``path`` as ``identity``; stream the answer back.

    ``extra_headers`` (lower case) are passed on as well, for routes whose callers authenticate
    to the service themselves; ``content`` replaces the request's body stream (a body the
    route has already read, e.g. to cap its size).
    """
    allowed = FORWARDED_REQUEST + extra_headers
    headers = {k: v for k, v in request.headers.items() if k.lower() in allowed}
    has_body = request.method not in ("GET", "HEAD", "DELETE", "OPTIONS")
    if content is None and has_body:
        content = request.stream()
    upstream = await services.open_stream(
        service,
        request.method,
        path,
        identity,
        params=request.query_params,
        headers=headers,
        content=content if has_body else None,
    )
    passed = {k: v for k, v in upstream.headers.items() if k.lower() in FORWARDED_RESPONSE}
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers=passed,
        background=BackgroundTask(upstream.aclose),
    )


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


async def capped_body(request: Request, limit: int) -> bytes:
    """The whole body, refused as soon as it is known to exceed ``limit`` bytes (declared length
    or bytes received): routes open to the internet cap what reaches a service."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
    return bytes(body)


async def body_stream(body: bytes) -> AsyncIterator[bytes]:
    """``body`` as the one-chunk stream :func:`forward` sends on."""
    yield body
