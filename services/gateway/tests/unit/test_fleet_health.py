"""Fleet health: the service and the ``GET /api/v1/healthz`` endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from coagent_gateway.adapters.memory import StaticFleetProbe
from coagent_gateway.endpoints import router
from coagent_gateway.service import GatewayService
from coagent_gateway.settings import INTERNAL_SERVICES, GatewaySettings
from coagent_kit.app import build_app
from coagent_kit.health import Readiness


async def ok() -> None:
    return None


async def down() -> None:
    raise ConnectionError("redis is gone")


def all_ok() -> dict[str, str]:
    return dict.fromkeys(INTERNAL_SERVICES, "ok")


async def test_everything_ok_is_ready() -> None:
    gateway = GatewayService(StaticFleetProbe(all_ok()), Readiness({"postgres": ok}))

    ready, body = await gateway.fleet_health()

    assert ready is True
    assert body == {
        "status": "ok",
        "services": {"gateway": {"status": "ok"}}
        | {n: {"status": "ok"} for n in INTERNAL_SERVICES},
        "dependencies": {"postgres": "ok"},
    }


async def test_one_service_down_is_unavailable() -> None:
    fleet = all_ok() | {"trigger": "unavailable"}
    gateway = GatewayService(StaticFleetProbe(fleet), Readiness({"postgres": ok}))

    ready, body = await gateway.fleet_health()

    assert ready is False
    assert body["status"] == "unavailable"
    services = body["services"]
    assert isinstance(services, dict)
    assert services["trigger"] == {"status": "unavailable"}
    assert services["chat"] == {"status": "ok"}


async def test_one_dependency_down_is_unavailable() -> None:
    gateway = GatewayService(StaticFleetProbe(all_ok()), Readiness({"redis": down, "pg": ok}))

    ready, body = await gateway.fleet_health()

    assert ready is False
    assert body["status"] == "unavailable"
    assert body["dependencies"] == {"redis": "error: redis is gone", "pg": "ok"}


@pytest.fixture
def fleet() -> StaticFleetProbe:
    return StaticFleetProbe(all_ok())


@pytest.fixture
def app(settings: GatewaySettings, fleet: StaticFleetProbe) -> FastAPI:
    app = build_app(settings, title="CoAgent (memory)", lifespan=None, checks={"postgres": ok})
    app.state.gateway = GatewayService(fleet, app.state.readiness)
    app.include_router(router)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


async def test_healthz_is_200_when_the_fleet_is_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/healthz")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "services", "dependencies"}
    assert body["status"] == "ok"
    assert set(body["services"]) == {"gateway", *INTERNAL_SERVICES}
    assert body["dependencies"] == {"postgres": "ok"}


async def test_healthz_is_503_with_the_same_shape_when_a_service_is_down(
    client: httpx.AsyncClient, fleet: StaticFleetProbe
) -> None:
    fleet.statuses["chat"] = "unavailable"

    response = await client.get("/api/v1/healthz")

    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"status", "services", "dependencies"}
    assert body["status"] == "unavailable"
    assert body["services"]["chat"] == {"status": "unavailable"}
