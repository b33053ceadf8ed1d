"""Calls to the internal services, carrying the caller's identity as a signed, short-lived token.

A service that cannot be reached, or does not answer in time, becomes a 503 with a stable code:
the gateway never hangs on a sick dependency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
import structlog
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.errors import BadRequest, DependencyUnavailable
from coagent_kit.tracing import tracer_provider

#: Connecting is quick on a healthy network; answers may take longer (LLM-backed routes).
TIMEOUT = httpx.Timeout(30.0, connect=2.0)


class ServiceUnavailable(DependencyUnavailable):
    code = "service_unavailable"


def path_segment(value: str) -> str:
    """``value`` encoded as one segment of an upstream path.

    ``.`` and ``..`` are encoded too: httpx removes dot segments from URLs, so an id like ``..``
    would otherwise climb to another path of the service.
    """
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


class ServiceClient:
    """One pooled HTTP client for every internal service, traced like the rest of the request."""

    def __init__(
        self,
        urls: Mapping[str, str],
        secret: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._urls = dict(urls)
        self._secret = secret
        self._http = httpx.AsyncClient(timeout=TIMEOUT, transport=transport)
        HTTPXClientInstrumentor.instrument_client(self._http, tracer_provider=tracer_provider())

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        identity: InternalIdentity,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request to ``service`` as ``identity``; 503 if the service is unreachable."""
        token = sign_identity(self._secret, self._with_request_id(identity), audience=service)
        try:
            return await self._http.request(
                method,
                f"{self._urls[service].rstrip('/')}{path}",
                params=params,
                json=json,
                headers={**(headers or {}), HEADER: token},
            )
        except httpx.TimeoutException as exc:
            raise ServiceUnavailable(f"The {service} service did not answer in time") from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"The {service} service is unavailable") from exc

    async def open_stream(
        self,
        service: str,
        method: str,
        path: str,
        identity: InternalIdentity,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: AsyncIterator[bytes] | None = None,
    ) -> httpx.Response:
        """Start a streamed exchange: the body is sent and read as it flows (uploads, SSE).

        The caller must ``aclose()`` the response. There is no read timeout: a stream may be
        quiet for a long time; connecting still fails fast.
        """
        token = sign_identity(self._secret, self._with_request_id(identity), audience=service)
        try:
            request = self._http.build_request(
                method,
                f"{self._urls[service].rstrip('/')}{path}",
                params=params,
                headers={**(headers or {}), HEADER: token},
                content=content,
                timeout=httpx.Timeout(None, connect=TIMEOUT.connect),
            )
        except httpx.InvalidURL as exc:
            raise BadRequest(f"Cannot forward this path: {exc}", code="invalid_path") from exc
        try:
            return await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"The {service} service is unavailable") from exc

    @staticmethod
    def _with_request_id(identity: InternalIdentity) -> InternalIdentity:
        if identity.request_id is not None:
            return identity
        rid = structlog.contextvars.get_contextvars().get("request_id")
        return identity.model_copy(update={"request_id": rid}) if rid else identity

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()
