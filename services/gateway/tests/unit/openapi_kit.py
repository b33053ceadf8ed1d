"""Small services with real FastAPI documents, and a gateway forwarding to them."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Cookie, FastAPI, Header
from pydantic import BaseModel

from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.routing.a2a import router as a2a_router
from coagent_gateway.routing.analytics import router as analytics_router
from coagent_gateway.routing.endpoints import owned_routes_router
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app
from coagent_kit.settings import ServiceSettings

OPENAPI_URL = "/api/v1/openapi.json"


class ChatSettings(ServiceSettings):
    service_name = "chat"


class EngineSettings(ServiceSettings):
    service_name = "workflow-engine"


class Label(BaseModel):
    text: str


class Item(BaseModel):
    """Chat's ``Item``: same name as the engine's, another shape."""

    title: str
    labels: list[Label] = []


class ItemEngine(BaseModel):
    steps: int


def chat_service() -> FastAPI:
    app = build_app(ChatSettings(env="test"), title="chat")

    @app.post("/api/v1/workspaces/{room_id}/artifacts", status_code=201)
    async def create_artifact(
        room_id: str,
        item: Item,
        idempotency_key: str | None = Header(None, alias="idempotency-key"),
        x_internal: str | None = Header(None, alias="x-internal"),
        session: str | None = Cookie(None),
    ) -> Item:
        """Create an artifact."""
        return item

    @app.get("/internal/rooms/{room_id}/messages")
    async def internal_messages(room_id: str) -> list[Item]:
        return []

    return app


def engine_service() -> FastAPI:
    app = build_app(EngineSettings(env="test"), title="engine")
    router = APIRouter()

    @router.post("/api/v1/workflows", status_code=201)
    async def create_workflow(item: ItemEngine) -> ItemEngine:
        """Create a workflow."""
        return item

    @router.get("/api/v1/users/keys")
    async def list_keys() -> list[str]:
        return []

    @router.post("/api/v1/analytics/{course_id}/generate")
    async def generate(course_id: str, room_ids: list[str]) -> dict[str, str]:
        """Only the gateway may call this with room ids: never public."""
        return {}

    @router.post("/api/v1/a2a/webhook")
    async def a2a_webhook(
        item: ItemEngine, x_agent_id: str | None = Header(None, alias="x-agent-id")
    ) -> dict[str, str]:
        return {}

    @router.get("/api/v1/graph-like/{x}")
    async def unrouted(x: str) -> dict[str, str]:
        """No gateway route leads here."""
        return {}

    app.include_router(router)
    return app


def gateway_app(settings: GatewaySettings) -> FastAPI:
    """A gateway with its own route, the analytics and A2A routes, and every owned family."""
    app = build_app(settings, title="CoAgent", openapi_url=OPENAPI_URL)

    @app.get("/api/v1/users/{user_id}", tags=["users"])
    async def read_user(user_id: str, user: CurrentUser) -> dict[str, str]:
        """The gateway's own operation."""
        return {"id": user_id}

    app.include_router(analytics_router)
    app.include_router(owned_routes_router())
    app.include_router(a2a_router)
    return app


class Fleet(httpx.AsyncBaseTransport):
    """Routes requests to in-process services by host name; a stopped one refuses connections."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self.apps = apps
        self.down: set[str] = set()
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.calls.append(f"{host} {request.url.path}")
        if host in self.down or host not in self.apps:
            raise httpx.ConnectError(f"{host} is down", request=request)
        return await httpx.ASGITransport(app=self.apps[host]).handle_async_request(request)
