"""The A2A webhook: reachable without a session, agent headers passed on, bodies capped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.routing.a2a import MAX_BODY_BYTES
from coagent_gateway.routing.a2a import router as a2a_router
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, verify_identity
from coagent_kit.settings import ServiceSettings

from ..conftest import SECRET


class EngineSettings(ServiceSettings):
    service_name = "workflow-engine"


def engine_stub(calls: list[dict[str, object]]) -> FastAPI:
    """Records what reached the engine: path, identity, agent headers, body size."""
    app = build_app(
        EngineSettings(env="test", internal_token_secret=SecretStr(SECRET)), title="engine"
    )

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def record(path: str, request: Request) -> dict[str, object]:
        identity = verify_identity(SECRET, request.headers[HEADER], "workflow-engine")
        call: dict[str, object] = {
            "path": "/" + path,
            "user": identity.user_id,
            "role": identity.platform_role,
            "agent_id": request.headers.get("x-agent-id"),
            "agent_token": request.headers.get("x-agent-token"),
            "cookie": request.headers.get("cookie"),
            "bytes": len(await request.body()),
        }
        calls.append(call)
        return call

    return app


@pytest.fixture
def calls() -> list[dict[str, object]]:
    return []


@pytest.fixture
async def client(
    settings: GatewaySettings, calls: list[dict[str, object]]
) -> AsyncIterator[httpx.AsyncClient]:
    urls = {"workflow-engine": "http://workflow-engine"}
    services = ServiceClient(urls, SECRET, transport=httpx.ASGITransport(app=engine_stub(calls)))
    app = build_app(settings, title="gateway")
    app.state.services = services
    app.include_router(a2a_router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        yield c
    await services.aclose()


async def test_the_webhook_needs_no_session_and_passes_the_agent_headers(
    client: httpx.AsyncClient, calls: list[dict[str, object]]
) -> None:
    payload = {"content": "hi", "metadata": {"room_id": "r1"}}
    response = await client.post(
        "/api/v1/a2a/webhook",
        json=payload,
        headers={"X-Agent-ID": "agent-1", "X-Agent-Token": "tok", "cookie": "access_token=x"},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "path": "/api/v1/a2a/webhook",
        "user": "a2a",
        "role": "guest",
        "agent_id": "agent-1",
        "agent_token": "tok",
        "cookie": None,
        "bytes": len(response.request.content),
    }


async def test_health_is_forwarded_without_a_session(
    client: httpx.AsyncClient, calls: list[dict[str, object]]
) -> None:
    response = await client.get("/api/v1/a2a/health")
    assert response.status_code == 200
    assert response.json()["path"] == "/api/v1/a2a/health"


async def test_oversized_bodies_never_reach_the_engine(
    client: httpx.AsyncClient, calls: list[dict[str, object]]
) -> None:
    declared = await client.post("/api/v1/a2a/webhook", content=b"x" * (MAX_BODY_BYTES + 1))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"y" * (MAX_BODY_BYTES // 2)

    streamed = await client.post("/api/v1/a2a/webhook", content=chunks())
    at_cap = await client.post("/api/v1/a2a/webhook", content=b"z" * MAX_BODY_BYTES)

    for response in (declared, streamed):
        assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    assert at_cap.status_code == 200
    assert [c["bytes"] for c in calls] == [MAX_BODY_BYTES]
