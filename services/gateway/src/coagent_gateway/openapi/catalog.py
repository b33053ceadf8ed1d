"""The services' own OpenAPI documents, fetched over the internal clients and cached.

A document is read with a short timeout and kept for ``ttl`` seconds; a service that could not be
read is asked again after ``retry`` seconds, so its operations appear soon after it comes back.
A failed refresh keeps the last document read (the service's operations are still what it last
declared); until a first read succeeds, the service has no document and its routes stay generic.
Refreshing happens when the document is asked for and something is stale (or on ``refresh``),
one refresh at a time, all services at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_kit.auth import InternalIdentity
from coagent_kit.errors import ServiceError
from coagent_kit.logging import get_logger

log = get_logger(__name__)

#: Who asks for the documents: the gateway itself, on no user's behalf.
CATALOG_IDENTITY = InternalIdentity(user_id="gateway", platform_role="guest")
DOCUMENT_PATH = "/openapi.json"


@dataclass
class _Entry:
    document: dict[str, Any] | None = None
    checked_at: float | None = None
    version: int = 0


class ServiceDocuments:
    """The latest OpenAPI document of each service (None while it has never been readable)."""

    def __init__(
        self,
        services: ServiceClient,
        names: Sequence[str],
        *,
        ttl: float = 300.0,
        retry: float = 10.0,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._services = services
        self._entries = {name: _Entry() for name in names}
        self._ttl, self._retry, self._timeout = ttl, retry, timeout
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def version(self) -> tuple[int, ...]:
        """Changes whenever some document changes (for caching what is built from them)."""
        return tuple(entry.version for entry in self._entries.values())

    async def current(self, *, refresh: bool = False) -> dict[str, dict[str, Any] | None]:
        """Every service's document, the stale ones refreshed first (all if ``refresh``)."""
        async with self._lock:
            due = [name for name, entry in self._entries.items() if refresh or self._stale(entry)]
            if due:
                await asyncio.gather(*(self._fetch(name) for name in due))
            return {name: entry.document for name, entry in self._entries.items()}

    def _stale(self, entry: _Entry) -> bool:
        if entry.checked_at is None:
            return True
        age = self._clock() - entry.checked_at
        return age >= (self._ttl if entry.document is not None else self._retry)

    async def _fetch(self, name: str) -> None:
        entry = self._entries[name]
        entry.checked_at = self._clock()
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._services.request(
                    name, "GET", DOCUMENT_PATH, CATALOG_IDENTITY
                )
            document = response.json() if response.status_code == 200 else None
        except (ServiceError, ValueError, TimeoutError) as exc:
            log.warning("service_openapi_unavailable", service=name, error=str(exc))
            return
        if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
            log.warning("service_openapi_invalid", service=name, status=response.status_code)
            return
        if document != entry.document:
            entry.document = document
            entry.version += 1
