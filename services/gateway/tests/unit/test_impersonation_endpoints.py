"""Impersonation (F30): super admin only, audited, active targets, no nesting, clean restore."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from coagent_gateway.domain import PlatformRole
from coagent_gateway.settings import GatewaySettings

from ..conftest import AuthKit
from .users_kit import UsersWorld, users_world

START = "/api/v1/login/impersonate"
STOP = "/api/v1/login/stop-impersonate"


@pytest.fixture
async def world(
    settings: GatewaySettings, auth: AuthKit, tmp_path: Path
) -> AsyncIterator[UsersWorld]:
    async with users_world(settings, auth, tmp_path) as w:
        yield w


async def _me(client: httpx.AsyncClient) -> dict[str, object] | None:
    body: dict[str, object] | None = (await client.post("/api/v1/login/test-token")).json()
    return body


async def test_super_admin_impersonates_and_restores(world: UsersWorld) -> None:
    root = await world.login(world.superadmin)
    started = await root.post(f"{START}/{world.student.id}")
    assert started.status_code == 200, started.text
    cookies = started.headers.get_list("set-cookie")
    flag = next(c for c in cookies if c.startswith("is_impersonating="))
    assert "is_impersonating=true" in flag
    assert "HttpOnly" not in flag
    saved = next(c for c in cookies if c.startswith("impersonator_refresh_token="))
    assert "HttpOnly" in saved
    me = await _me(root)
    assert me is not None
    assert me["id"] == world.student.id
    claims = world.auth.codec.verify(root.cookies["access_token"])
    assert claims.impersonator_id == world.superadmin.id

    # A refresh during impersonation stays the target (the reference silently reverted).
    assert (await root.post("/api/v1/login/refresh")).status_code == 200
    me = await _me(root)
    assert me is not None
    assert me["id"] == world.student.id
    imp_access = root.cookies["access_token"]

    stopped = await root.post(STOP)
    assert stopped.status_code == 200, stopped.text
    stop_cookies = stopped.headers.get_list("set-cookie")
    assert any(c.startswith("is_impersonating=") and "Max-Age=0" in c for c in stop_cookies)
    me = await _me(root)
    assert me is not None
    assert me["id"] == world.superadmin.id
    # The impersonation session is over: its access token no longer works.
    stale = world.anonymous(headers={"authorization": f"Bearer {imp_access}"})
    assert (await stale.get("/api/v1/users/me")).status_code == 401
    actions = world.auth.audit.actions()
    assert "impersonation_started" in actions
    assert "impersonation_stopped" in actions
    started_entry = next(
        e for e in world.auth.audit.entries if e["action"] == "impersonation_started"
    )
    assert started_entry["actor_id"] == world.superadmin.id
    assert started_entry["subject_id"] == world.student.id


async def test_only_super_admin_may_impersonate(world: UsersWorld) -> None:
    for user in (world.admin, world.teacher, world.ta, world.student):
        client = await world.login(user)
        response = await client.post(f"{START}/{world.student.id}")
        assert response.status_code == 403, user.username
        assert "is_impersonating" not in response.headers.get("set-cookie", "")
    assert (await world.anonymous().post(f"{START}/{world.student.id}")).status_code == 401


async def test_targets_must_exist_be_active_and_not_super_admin(world: UsersWorld) -> None:
    other_root = world.auth.add_user("root2", role=PlatformRole.SUPER_ADMIN)
    asleep = world.auth.add_user("sleepy", active=False)
    root = await world.login(world.superadmin)
    assert (await root.post(f"{START}/{other_root.id}")).status_code == 403
    assert (await root.post(f"{START}/{world.superadmin.id}")).status_code == 403
    inactive = await root.post(f"{START}/{asleep.id}")
    assert inactive.status_code == 400
    missing = await root.post(f"{START}/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    me = await _me(root)
    assert me is not None
    assert me["id"] == world.superadmin.id


async def test_no_nested_impersonation(world: UsersWorld) -> None:
    root = await world.login(world.superadmin)
    await root.post(f"{START}/{world.admin.id}")
    nested = await root.post(f"{START}/{world.student.id}")
    assert nested.status_code == 400
    assert nested.json()["code"] == "already_impersonating"


async def test_stop_without_impersonating_is_400(world: UsersWorld) -> None:
    root = await world.login(world.superadmin)
    response = await root.post(STOP)
    assert response.status_code == 400
    assert response.json()["code"] == "not_impersonating"
    assert (await world.anonymous().post(STOP)).status_code == 400


async def test_logout_while_impersonating_ends_both_sessions(world: UsersWorld) -> None:
    root = await world.login(world.superadmin)
    await root.post(f"{START}/{world.student.id}")
    saved = root.cookies["impersonator_refresh_token"]
    assert (await root.post("/api/v1/login/logout")).status_code == 200
    assert await world.auth.service.refresh_would_succeed(saved) is False
    assert await _me(root) is None
