"""The reference client's session routes: cookies, the probe's 200-null rule, refresh, logout."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ..conftest import AuthKit

BASE = "http://gateway.test"


@pytest.fixture
async def client(auth_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=auth_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        yield c


async def _login(client: httpx.AsyncClient, username: str = "ada") -> httpx.Response:
    # The web client posts multipart/form-data, not urlencoded.
    return await client.post(
        "/api/v1/login/access-token",
        files={"username": (None, username), "password": (None, "correct-horse")},
    )


async def test_probe_without_a_session_is_200_null(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/login/test-token")
    assert response.status_code == 200
    assert response.json() is None


async def test_bad_login_is_400_with_detail_and_code(
    client: httpx.AsyncClient, auth: AuthKit
) -> None:
    auth.add_user()
    response = await client.post(
        "/api/v1/login/access-token", files={"username": (None, "ada"), "password": (None, "x")}
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Incorrect username/email or password",
        "code": "invalid_credentials",
    }
    assert "access_token" not in response.cookies


async def test_login_sets_http_only_cookies_and_the_probe_returns_the_user(
    client: httpx.AsyncClient, auth: AuthKit
) -> None:
    user = auth.add_user()
    response = await _login(client)
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    cookies = response.headers.get_list("set-cookie")
    access = next(c for c in cookies if c.startswith("access_token="))
    refresh = next(c for c in cookies if c.startswith("refresh_token="))
    assert "HttpOnly" in access
    assert "SameSite=lax" in access
    assert "Path=/" in access
    assert "HttpOnly" in refresh
    assert "Path=/api/v1/login" in refresh

    me = (await client.post("/api/v1/login/test-token")).json()
    assert me == {
        "id": user.id,
        "email": "ada@example.org",
        "username": "ada",
        "full_name": "Ada",
        "role": "student",
        "is_active": True,
        "avatar_url": None,
    }


async def test_bearer_token_works_for_programs(client: httpx.AsyncClient, auth: AuthKit) -> None:
    auth.add_user()
    token = (await _login(client)).json()["access_token"]
    client.cookies.clear()
    me = await client.post("/api/v1/login/test-token", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "ada"


async def test_dropped_access_cookie_gives_401_then_refresh_restores(
    client: httpx.AsyncClient, auth: AuthKit
) -> None:
    auth.add_user()
    await _login(client)
    client.cookies.delete("access_token")
    probe = await client.post("/api/v1/login/test-token")
    assert probe.status_code == 401  # a refresh will succeed, so the client should refresh
    refreshed = await client.post("/api/v1/login/refresh")
    assert refreshed.status_code == 200
    assert (await client.post("/api/v1/login/test-token")).json()["username"] == "ada"


async def test_refresh_without_a_cookie_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/login/refresh")
    assert response.status_code == 401
    assert response.json()["code"] == "refresh_rejected"


async def test_logout_clears_cookies_and_the_old_refresh_token_is_dead(
    client: httpx.AsyncClient, auth: AuthKit
) -> None:
    auth.add_user()
    await _login(client)
    old_refresh = client.cookies.get("refresh_token")
    old_access = client.cookies.get("access_token")
    response = await client.post("/api/v1/login/logout")
    assert response.status_code == 200
    cleared = response.headers.get_list("set-cookie")
    assert any(c.startswith('access_token=""') or "access_token=;" in c for c in cleared)
    assert any("refresh_token" in c and "Max-Age=0" in c for c in cleared)
    assert (await client.post("/api/v1/login/test-token")).json() is None

    client.cookies.set("refresh_token", old_refresh or "", path="/api/v1/login")
    assert (await client.post("/api/v1/login/refresh")).status_code == 401
    stolen = await client.post(
        "/api/v1/login/test-token", headers={"Authorization": f"Bearer {old_access}"}
    )
    assert stolen.json() is None


async def test_throttled_login_is_429_with_retry_after(
    client: httpx.AsyncClient, auth: AuthKit
) -> None:
    auth.add_user()
    for _ in range(10):
        await client.post(
            "/api/v1/login/access-token", files={"username": (None, "ada"), "password": (None, "x")}
        )
    response = await _login(client)
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_login_attempts"
    assert int(response.headers["retry-after"]) > 0
