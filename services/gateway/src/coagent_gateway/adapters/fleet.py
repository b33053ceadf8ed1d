"""Asks each internal service's ``/readyz`` over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx


class HttpFleetProbe:
    """Concurrent readiness probes with a short timeout; an unreachable service is unavailable."""

    def __init__(self, client: httpx.AsyncClient, urls: Mapping[str, str]) -> None:
        self._client = client
        self._urls = dict(urls)

    async def services(self) -> dict[str, dict[str, object]]:
        names = list(self._urls)
        results = await asyncio.gather(*(self._probe(self._urls[n]) for n in names))
        return dict(zip(names, results, strict=True))

    async def _probe(self, base_url: str) -> dict[str, object]:
        try:
            response = await self._client.get(f"{base_url.rstrip('/')}/readyz", timeout=2.0)
        except httpx.HTTPError as exc:
            return {"status": "unavailable", "error": str(exc) or type(exc).__name__}
        try:
            checks = response.json().get("checks", {})
        except ValueError:
            checks = {}
        status = "ok" if response.status_code == 200 else "unavailable"
        return {"status": status, "checks": checks}
