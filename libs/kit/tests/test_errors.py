"""The app every service starts from: error shape, request ids, health, readiness, metrics."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest
import structlog
from fastapi import FastAPI
from pydantic import BaseModel

from coagent_kit import errors
from coagent_kit.app import REQUEST_ID_HEADER, build_app
from coagent_kit.errors import (
    BadRequest,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    NotFound,
    ServiceError,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)
from coagent_kit.health import Check, Readiness
from coagent_kit.settings import ServiceSettings


class RoomFull(Conflict):
    code = "room_full"


class Payload(BaseModel):
    name: str
    size: int


ERRORS: dict[str, ServiceError] = {
    "bad": BadRequest("bad input"),
    "unauth": Unauthorized("who are you"),
    "forbidden": Forbidden("not yours"),
    "missing": NotFound("no such room"),
    "conflict": Conflict("already there"),
    "room_full": RoomFull("the room is full"),
    "unprocessable": Unprocessable("cannot"),
    "slow_down": TooManyRequests("too many"),
    "down": DependencyUnavailable("db down"),
    "teapot": ServiceError("short and stout", code="teapot", status=418),
}
EXPECTED = {
    "bad": (400, "bad_request"),
    "unauth": (401, "unauthorized"),
    "forbidden": (403, "forbidden"),
    "missing": (404, "not_found"),
    "conflict": (409, "conflict"),
    "room_full": (409, "room_full"),
    "unprocessable": (422, "unprocessable"),
    "slow_down": (429, "rate_limited"),
    "down": (503, "dependency_unavailable"),
    "teapot": (418, "teapot"),
}


def _app(settings: ServiceSettings, checks: Mapping[str, Check] | None = None) -> FastAPI:
    app = build_app(settings, title="demo", checks=checks)

    @app.get("/errors/{name}")
    async def raise_error(name: str) -> None:
        raise ERRORS[name]

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.post("/items")
    async def post_item(payload: Payload) -> Payload:
        return payload

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


@pytest.fixture
async def client(demo_settings: ServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(demo_settings), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        yield client


@pytest.mark.parametrize("name", sorted(ERRORS))
async def test_service_errors_render_detail_and_code(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/errors/{name}")
    status, code = EXPECTED[name]
    assert response.status_code == status
    assert response.json() == {"detail": ERRORS[name].detail, "code": code}


async def test_unauthorized_asks_for_bearer(client: httpx.AsyncClient) -> None:
    response = await client.get("/errors/unauth")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_unknown_route_is_404_with_code(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}


async def test_wrong_method_is_405_with_code(client: httpx.AsyncClient) -> None:
    response = await client.delete("/items/1")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_path_validation_error_keeps_fastapi_list(client: httpx.AsyncClient) -> None:
    response = await client.get("/items/not-a-number")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert isinstance(body["detail"], list)
    assert body["detail"]
    first = body["detail"][0]
    assert first["loc"] == ["path", "item_id"]
    assert isinstance(first["msg"], str)


async def test_body_validation_error_lists_every_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"size": "big"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    locs = {tuple(item["loc"]) for item in body["detail"]}
    assert locs == {("body", "name"), ("body", "size")}
    assert all(item["msg"] for item in body["detail"])


class _RecordingLog:
    """Stands in for the errors module's logger (and skips rendering a rich traceback)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object], dict[str, object]]] = []

    def exception(self, event: str, **fields: object) -> None:
        self.calls.append((event, fields, structlog.contextvars.get_contextvars()))

    error = exception


async def test_unhandled_exception_is_a_generic_500(
    demo_settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _RecordingLog()
    monkeypatch.setattr(errors, "log", recorder)
    app = _app(demo_settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        response = await client.get("/boom", headers={REQUEST_ID_HEADER: "req-500"})
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error", "code": "internal_error"}
    assert "secret internals" not in response.text
    # The failure is logged once, with the request id, and the id is echoed to the caller.
    assert recorder.calls == [
        ("unhandled_error", {"error_type": "RuntimeError"}, {"request_id": "req-500"})
    ]
    assert response.headers[REQUEST_ID_HEADER] == "req-500"
    # 500s are what error-rate alerts count: they must reach the request metrics.
    assert 'route="/boom",service="demo",status="500"} ' in metrics


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/items/3", headers={REQUEST_ID_HEADER: "req-123"})
    assert response.status_code == 200
    assert response.headers[REQUEST_ID_HEADER] == "req-123"


async def test_request_id_is_echoed_on_errors(client: httpx.AsyncClient) -> None:
    response = await client.get("/errors/missing", headers={REQUEST_ID_HEADER: "req-404"})
    assert response.headers[REQUEST_ID_HEADER] == "req-404"


async def test_request_id_is_minted_when_absent(client: httpx.AsyncClient) -> None:
    first = (await client.get("/items/1")).headers[REQUEST_ID_HEADER]
    second = (await client.get("/items/1")).headers[REQUEST_ID_HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


# ------------------------------------------------------------------ health and readiness


async def _ok() -> None:
    return None


async def _broken() -> None:
    raise ConnectionError("connection refused")


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        return await client.get(path)


async def test_healthz(demo_settings: ServiceSettings) -> None:
    response = await _get(_app(demo_settings, {"db": _broken}), "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "demo"}


async def test_readyz_503_when_a_check_fails(demo_settings: ServiceSettings) -> None:
    response = await _get(_app(demo_settings, {"db": _ok, "broker": _broken}), "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["service"] == "demo"
    assert body["checks"] == {"db": "ok", "broker": "error: connection refused"}


async def test_readyz_200_when_all_checks_pass(demo_settings: ServiceSettings) -> None:
    response = await _get(_app(demo_settings, {"db": _ok, "broker": _ok}), "/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": "demo",
        "checks": {"db": "ok", "broker": "ok"},
    }


async def test_readiness_times_out_a_hanging_check() -> None:
    async def hangs() -> None:
        await asyncio.sleep(10)

    async def nameless() -> None:
        raise ConnectionError()

    readiness = Readiness({"slow": hangs, "nameless": nameless, "fine": _ok}, timeout_s=0.05)
    report = await asyncio.wait_for(readiness.report(), 2)
    assert report == {
        "slow": "error: timed out",
        "nameless": "error: ConnectionError",
        "fine": "ok",
    }


# ------------------------------------------------------------------ metrics


async def test_metrics_count_requests_by_route_template(demo_settings: ServiceSettings) -> None:
    app = _app(demo_settings)
    item = uuid.uuid4().int % 10_000
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        await client.get(f"/items/{item}")
        await client.get("/no/such/route")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE coagent_http_requests_total counter" in text
    assert re.search(
        r'coagent_http_requests_total\{method="GET",route="/items/\{item_id\}",'
        r'service="demo",status="200"\} [1-9]',
        text,
    )
    assert 'route="unmatched",service="demo",status="404"' in text
    assert f"/items/{item}" not in text
    assert "coagent_http_request_duration_seconds_bucket" in text
