"""Liveness (``/healthz``) and readiness (``/readyz``) endpoints and the checks behind them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from coagent_kit.db import ping

#: A readiness check raises when its dependency is not usable.
Check = Callable[[], Awaitable[None]]


class Readiness:
    """Runs a service's checks concurrently, each with a timeout."""

    def __init__(self, checks: Mapping[str, Check], timeout_s: float = 2.0) -> None:
        self._checks = dict(checks)
        self._timeout_s = timeout_s

    async def report(self) -> dict[str, str]:
        """``{name: "ok" | "error: <reason>"}`` for every check."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(self._checks[n]) for n in names))
        return dict(zip(names, results, strict=True))

    async def _run(self, check: Check) -> str:
        try:
            await asyncio.wait_for(check(), self._timeout_s)
        except TimeoutError:
            return "error: timed out"
        except Exception as exc:
            return f"error: {str(exc) or type(exc).__name__}"
        return "ok"


def health_router(service: str, readiness: Readiness) -> APIRouter:
    """``GET /healthz`` (the process is alive) and ``GET /readyz`` (its dependencies answer)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = await readiness.report()
        ready = all(v == "ok" for v in checks.values())
        body = {"status": "ok" if ready else "unavailable", "service": service, "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    return router


def nats_check(broker: NatsBroker) -> Check:
    """The broker's connection answers a ping."""

    async def check() -> None:
        if not await broker.ping(timeout=1.0):
            raise ConnectionError("NATS does not answer")

    return check


def postgres_check(engine: AsyncEngine) -> Check:
    """The service's database answers ``select 1``."""

    async def check() -> None:
        await ping(engine)

    return check


def redis_check(client: Redis, module: str | None = None) -> Check:
    """Redis answers PING (and has ``module`` loaded, e.g. ``graph`` for FalkorDB)."""

    async def check() -> None:
        await client.ping()
        if module is not None:
            loaded = await client.execute_command("MODULE", "LIST")  # type: ignore[no-untyped-call]
            names = {_module_name(entry) for entry in loaded}
            if module not in names:
                raise ConnectionError(f"module {module!r} not loaded")

    return check


def _module_name(entry: object) -> str:
    # RESP2 gives a flat [b"name", b"graph", b"ver", ...] list; RESP3 a dict.
    if isinstance(entry, dict):
        raw = entry.get(b"name", entry.get("name", b""))
    elif isinstance(entry, list | tuple):
        raw = entry[1] if len(entry) > 1 else b""
    else:
        raw = b""
    return raw.decode() if isinstance(raw, bytes) else str(raw)
