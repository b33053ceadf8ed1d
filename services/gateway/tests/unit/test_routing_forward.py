"""Forwarding to an internal service: identity, uploads, streamed answers, errors, outages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import SecretStr

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.routing.forward import forward
from coagent_kit.app import build_app
from coagent_kit.auth import Identity, InternalIdentity
from coagent_kit.settings import ServiceSettings

from ..conftest import SECRET


class ArtifactsSettings(ServiceSettings):
    service_name = "chat"


def upstream_app() -> FastAPI:
    """A stand-in internal service that checks the identity it is given."""
    app = build_app(
        ArtifactsSettings(env="test", internal_token_secret=SecretStr(SECRET)), title="svc"
    )
    router = APIRouter()

    @router.post("/internal/files")
    async def upload(request: Request, identity: Identity) -> dict[str, object]:
        body = await request.body()
        return {
            "bytes": len(body),
            "type": request.headers.get("content-type"),
            "user": identity.user_id,
            "role": identity.resource_role,
            "cookie": request.headers.get("cookie"),
        }

    @router.get("/internal/stream")
    async def stream(identity: Identity, n: int = 3) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(n):
                yield f"data: {i}\n\n".encode()

        return StreamingResponse(chunks(), media_type="text/event-stream")

    @router.get("/internal/missing")
    async def missing(identity: Identity) -> JSONResponse:
        return JSONResponse({"detail": "No such thing", "code": "thing_not_found"}, 404)

    app.include_router(router)
    return app


def gateway_app(services: ServiceClient) -> FastAPI:
    app = FastAPI()
    identity = InternalIdentity(user_id="u1", platform_role="student", resource_role="ta")

    @app.api_route("/api/v1/things/{rest:path}", methods=["GET", "POST"])
    async def things(rest: str, request: Request) -> StreamingResponse:
        return await forward(request, services, "chat", f"/internal/{rest}", identity)

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    services = ServiceClient(
        {"chat": "http://chat.internal"}, SECRET, transport=httpx.ASGITransport(app=upstream_app())
    )
    transport = httpx.ASGITransport(app=gateway_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        yield c
    await services.aclose()


async def test_uploads_pass_through_with_the_identity_and_without_cookies(
    client: httpx.AsyncClient,
) -> None:
    payload = b"\x89PNG" + bytes(200_000)
    response = await client.post(
        "/api/v1/things/files",
        content=payload,
        headers={"content-type": "image/png", "cookie": "access_token=secret"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "bytes": len(payload),
        "type": "image/png",
        "user": "u1",
        "role": "ta",
        "cookie": None,
    }


async def test_streamed_answers_keep_their_type_and_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/things/stream", params={"n": 4})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text == "".join(f"data: {i}\n\n" for i in range(4))


async def test_service_errors_keep_status_and_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/things/missing")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such thing", "code": "thing_not_found"}


async def test_an_unreachable_service_is_503_fast() -> None:
    services = ServiceClient({"chat": "http://127.0.0.1:9"}, SECRET)
    app = gateway_app(services)
    app_with_errors = build_app(ArtifactsSettings(env="test"), title="gw")
    app_with_errors.router.routes.extend(app.router.routes)
    transport = httpx.ASGITransport(app=app_with_errors)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        response = await c.get("/api/v1/things/stream")
    await services.aclose()
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
