"""Trigger webhooks: reachable without a session, signature headers passed on, bodies capped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.routing.endpoints import owned_routes_router
from coagent_gateway.routing.hooks import MAX_BODY_BYTES
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, verify_identity
from coagent_kit.settings import ServiceSettings

from ..conftest import SECRET


class TriggerSettings(ServiceSettings):
    service_name = "trigger"


def trigger_stub(calls: list[dict[str, object]]) -> FastAPI:
    """Records what reached the trigger service: path, identity, signature headers, body."""
    app = build_app(
        TriggerSettings(env="test", internal_token_secret=SecretStr(SECRET)), title="trigger"
    )

    @app.post("/{path:path}", status_code=202)
    async def record(path: str, request: Request) -> dict[str, object]:
        identity = verify_identity(SECRET, request.headers[HEADER], "trigger")
        call: dict[str, object] = {
            "path": "/" + path,
            "user": identity.user_id,
            "role": identity.platform_role,
            "timestamp": request.headers.get("x-coagent-timestamp"),
            "signature": request.headers.get("x-coagent-signature"),
            "delivery": request.headers.get("x-coagent-delivery"),
            "cookie": request.headers.get("cookie"),
            "body": (await request.body()).decode(),
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
    urls = {"trigger": "http://trigger"}
    services = ServiceClient(urls, SECRET, transport=httpx.ASGITransport(app=trigger_stub(calls)))
    app = build_app(settings, title="gateway")
    app.state.services = services
    app.include_router(owned_routes_router())  # the hooks route is registered with them
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        yield c
    await services.aclose()


async def test_a_delivery_needs_no_session_and_keeps_its_signature_headers(
    client: httpx.AsyncClient, calls: list[dict[str, object]]
) -> None:
    response = await client.post(
        "/api/v1/hooks/policy-1",
        content=b'{"ping": 1}',
        headers={
            "content-type": "application/json",
            "X-CoAgent-Timestamp": "1700000000",
            "X-CoAgent-Signature": "sha256=abc",
            "X-CoAgent-Delivery": "d-1",
            "cookie": "access_token=x",
            "authorization": "Bearer stolen",
        },
    )

    assert response.status_code == 202, response.text
    assert response.json() == {
        "path": "/api/v1/hooks/policy-1",
        "user": "webhook",
        "role": "guest",
        "timestamp": "1700000000",
        "signature": "sha256=abc",
        "delivery": "d-1",
        "cookie": None,
        "body": '{"ping": 1}',
    }


async def test_oversized_deliveries_never_reach_the_trigger_service(
    client: httpx.AsyncClient, calls: list[dict[str, object]]
) -> None:
    declared = await client.post("/api/v1/hooks/p1", content=b"x" * (MAX_BODY_BYTES + 1))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"y" * (MAX_BODY_BYTES // 2)

    streamed = await client.post("/api/v1/hooks/p1", content=chunks())
    at_cap = await client.post("/api/v1/hooks/p1", content=b"z" * MAX_BODY_BYTES)

    for response in (declared, streamed):
        assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    assert at_cap.status_code == 202
    assert [len(str(c["body"])) for c in calls] == [MAX_BODY_BYTES]


async def test_dot_segments_cannot_escape_the_hooks_path(
    client: httpx.AsyncClient, calls: list[dict[str, object]]
) -> None:
    response = await client.post("/api/v1/hooks/%2E%2E", content=b"{}")
    assert response.status_code in (400, 404, 405)
    assert calls == []
