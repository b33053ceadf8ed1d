"""The reference client's session path against the real fleet (cookies over real HTTP)."""

from __future__ import annotations

import httpx
import pytest

from coagent_cli.fleet import Fleet

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.e2e


def test_probe_login_refresh_logout(fleet: Fleet) -> None:
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as client:
        assert client.post("/api/v1/login/test-token").json() is None

        bad = client.post(
            "/api/v1/login/access-token",
            files={"username": (None, ADMIN_EMAIL), "password": (None, "wrong")},
        )
        assert bad.status_code == 400
        assert bad.json()["detail"]

        good = client.post(
            "/api/v1/login/access-token",
            files={"username": (None, ADMIN_EMAIL), "password": (None, ADMIN_PASSWORD)},
        )
        assert good.status_code == 200, good.text
        me = client.post("/api/v1/login/test-token").json()
        assert me["email"] == ADMIN_EMAIL
        assert me["role"] == "super_admin"
        assert "hashed_password" not in me

        client.cookies.delete("access_token")
        assert client.post("/api/v1/login/test-token").status_code == 401
        assert client.post("/api/v1/login/refresh").status_code == 200
        assert client.post("/api/v1/login/test-token").json()["email"] == ADMIN_EMAIL

        old_refresh = client.cookies.get("refresh_token")
        assert client.post("/api/v1/login/logout").status_code == 200
        assert client.post("/api/v1/login/test-token").json() is None
        client.cookies.set("refresh_token", old_refresh or "", path="/api/v1/login")
        assert client.post("/api/v1/login/refresh").status_code == 401
