"""`/api/v1/openapi.json` and `/docs` serve the merged document, whatever the services do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.openapi.catalog import ServiceDocuments
from coagent_gateway.openapi.public import install_public_openapi
from coagent_gateway.settings import GatewaySettings

from ..conftest import SECRET
from .openapi_kit import OPENAPI_URL, Fleet, chat_service, engine_service, gateway_app

ARTIFACTS = "/api/v1/workspaces/{room_id}/artifacts"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fleet() -> Fleet:
    return Fleet({"chat": chat_service(), "workflow-engine": engine_service()})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(
    settings: GatewaySettings, fleet: Fleet, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    urls = {name: f"http://{name}" for name in settings.service_urls()}
    services = ServiceClient(urls, SECRET, transport=fleet)
    app = gateway_app(settings)
    app.state.services = services
    install_public_openapi(
        app,
        services,
        lambda names: ServiceDocuments(services, names, ttl=60, retry=5, clock=clock),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        yield c
    await services.aclose()


async def test_the_public_document_includes_forwarded_operations(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(OPENAPI_URL)
    assert response.status_code == 200
    doc = response.json()
    assert "requestBody" in doc["paths"][ARTIFACTS]["post"]
    assert "/api/v1/workflows" in doc["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert OPENAPI_URL in docs.text


async def test_a_service_that_is_down_is_retried_and_fills_in(
    client: httpx.AsyncClient, fleet: Fleet, clock: Clock
) -> None:
    fleet.down.add("chat")
    first = (await client.get(OPENAPI_URL)).json()
    assert set(first["paths"][ARTIFACTS]) == {"get", "post", "put", "patch", "delete"}

    fleet.down.clear()
    clock.now += 1  # before the retry delay: the generic operations stay, chat is not asked
    calls = len(fleet.calls)
    assert (await client.get(OPENAPI_URL)).json() == first
    assert len(fleet.calls) == calls

    clock.now += 5
    later = (await client.get(OPENAPI_URL)).json()
    assert set(later["paths"][ARTIFACTS]) == {"post"}
    assert "chat.Item" in later["components"]["schemas"]


async def test_documents_are_cached_until_they_are_stale(
    client: httpx.AsyncClient, fleet: Fleet, clock: Clock
) -> None:
    await client.get(OPENAPI_URL)
    asked = [call for call in fleet.calls if call.endswith("/openapi.json")]
    assert sorted(asked) == sorted(
        f"{name} /openapi.json"
        for name in ("chat", "workflow-engine", "trigger", "graphrag-query", "graphrag-ingest")
    )
    await client.get(OPENAPI_URL)
    assert len(fleet.calls) == len(asked)

    # Once stale, a service that went down keeps its last document.
    fleet.down.add("chat")
    clock.now += 60
    doc = (await client.get(OPENAPI_URL)).json()
    assert len(fleet.calls) == 2 * len(asked)
    assert set(doc["paths"][ARTIFACTS]) == {"post"}


async def test_a_slow_service_does_not_hold_the_document(
    settings: GatewaySettings, fleet: Fleet
) -> None:
    class Stuck(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.host == "chat":
                await asyncio.sleep(30)
            return await fleet.handle_async_request(request)

    urls = {name: f"http://{name}" for name in settings.service_urls()}
    services = ServiceClient(urls, SECRET, transport=Stuck())
    catalog = ServiceDocuments(services, ["chat", "workflow-engine"], timeout=0.2)
    try:
        documents = await asyncio.wait_for(catalog.current(), timeout=10)
    finally:
        await services.aclose()
    assert documents["chat"] is None
    assert documents["workflow-engine"] is not None


def test_installing_needs_an_openapi_url(settings: GatewaySettings) -> None:
    app = FastAPI(openapi_url=None)
    urls = {name: f"http://{name}" for name in settings.service_urls()}
    with pytest.raises(ValueError, match="no OpenAPI document"):
        install_public_openapi(app, ServiceClient(urls, SECRET))
