"""The built web client on the gateway's origin: history fallback, caching, CSP, no escapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from coagent_gateway.settings import GatewaySettings
from coagent_gateway.web import IMMUTABLE, web_router
from coagent_kit.app import build_app


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=app></div>")
    (tmp_path / "assets" / "index-3f2a9c.js").write_text("console.log(1)")
    (tmp_path / "favicon.ico").write_bytes(b"\x00\x00")
    (tmp_path.parent / "secret.txt").write_text("outside")
    return tmp_path


@pytest.fixture
async def client(web_dir: Path, settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings, title="gw", openapi_url="/api/v1/openapi.json")
    api = APIRouter(prefix="/api/v1")

    @api.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    app.include_router(api)
    app.include_router(web_router(web_dir))  # last: the catch-all
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w") as c:
        yield c


async def test_deep_links_get_index_with_a_strict_csp(client: httpx.AsyncClient) -> None:
    for path in ("/", "/courses/123", "/rooms/abc/workflow"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "<div id=app>" in response.text
        assert response.headers["cache-control"] == "no-cache"
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp


async def test_hashed_assets_are_cached_for_a_year(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/index-3f2a9c.js")
    assert response.text == "console.log(1)"
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_api_paths_are_never_answered_with_the_page(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/ping")).json() == {"pong": "yes"}
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert (await client.get("/static/avatars/x.png")).status_code == 404


async def test_paths_cannot_escape_the_web_dir(client: httpx.AsyncClient) -> None:
    response = await client.get("/..%2Fsecret.txt")
    assert "outside" not in response.text


def test_a_web_dir_without_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        web_router(tmp_path)
