"""The audit log: user changes are recorded and admins read them, newest first, paged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coagent_gateway.settings import GatewaySettings

from ..conftest import AuthKit
from .users_kit import UsersWorld, users_world

LOG = "/api/v1/admin/audit-log"


@pytest.fixture
async def world(
    settings: GatewaySettings, auth: AuthKit, tmp_path: Path
) -> AsyncIterator[UsersWorld]:
    async with users_world(settings, auth, tmp_path) as w:
        yield w


async def test_user_changes_are_audited_without_secrets(world: UsersWorld) -> None:
    admin = await world.login(world.admin)
    created = await admin.post(
        "/api/v1/users/",
        json={
            "email": "neo@example.org",
            "username": "neo",
            "password": "long-enough-pw",
            "full_name": "Neo",
            "role": "student",
        },
    )
    new_id = created.json()["id"]
    await admin.put(f"/api/v1/users/{new_id}", json={"role": "teacher", "password": "another-pw-1"})
    await admin.delete(f"/api/v1/users/{new_id}")
    entries = (await admin.get(LOG, params={"limit": 100})).json()
    about = [e for e in entries if e["subject_id"] == new_id]
    assert [e["action"] for e in about] == [
        "user_deactivated",
        "user_role_changed",
        "user_updated",
        "user_created",
    ]
    role_change = about[1]
    assert role_change["actor_id"] == world.admin.id
    assert role_change["details"] == {"from": "student", "to": "teacher"}
    assert set(role_change) == {"id", "at", "action", "actor_id", "subject_id", "ip", "details"}
    assert "another-pw-1" not in str(entries)
    assert "long-enough-pw" not in str(entries)


async def test_logins_and_failures_are_in_the_log(world: UsersWorld) -> None:
    await world.anonymous().post(
        "/api/v1/login/access-token", files={"username": (None, "stu"), "password": (None, "no")}
    )
    admin = await world.login(world.admin)
    actions = [e["action"] for e in (await admin.get(LOG)).json()]
    assert actions[:2] == ["login", "login_failed"]


async def test_only_admins_read_the_log(world: UsersWorld) -> None:
    for user in (world.teacher, world.ta, world.student):
        client = await world.login(user)
        assert (await client.get(LOG)).status_code == 403
    assert (await world.anonymous().get(LOG)).status_code == 401
    root = await world.login(world.superadmin)
    assert (await root.get(LOG)).status_code == 200


async def test_cursor_paging_and_filters(world: UsersWorld) -> None:
    for user in (world.student, world.ta, world.teacher):
        await world.login(user)
    admin = await world.login(world.admin)
    everything = (await admin.get(LOG, params={"limit": 100})).json()
    first = (await admin.get(LOG, params={"limit": 2})).json()
    assert first == everything[:2]
    second = (await admin.get(LOG, params={"limit": 2, "before": first[-1]["id"]})).json()
    assert second == everything[2:4]
    mine = (await admin.get(LOG, params={"actor_id": world.ta.id})).json()
    assert [e["action"] for e in mine] == ["login"]
    logins = (await admin.get(LOG, params={"action": "login"})).json()
    assert len(logins) == 4
    assert (await admin.get(LOG, params={"limit": 0})).status_code == 422
