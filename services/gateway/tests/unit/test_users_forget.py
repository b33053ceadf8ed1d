"""``POST /api/v1/users/{id}/forget``: who may forget whom, and what a forgotten account keeps."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from coagent_contracts.gateway import UserForgottenV1
from coagent_gateway.domain import User
from coagent_gateway.settings import GatewaySettings

from ..conftest import AuthKit
from .users_kit import PASSWORD, UsersWorld, users_world


@pytest.fixture
async def world(
    settings: GatewaySettings, auth: AuthKit, tmp_path: Path
) -> AsyncIterator[UsersWorld]:
    async with users_world(settings, auth, tmp_path) as w:
        yield w


def _forgotten(world: UsersWorld) -> list[UserForgottenV1]:
    return [e for e in world.directory.published if isinstance(e, UserForgottenV1)]


async def _forget_status(world: UsersWorld, actor: User, target: User) -> int:
    client = await world.login(actor)
    return (await client.post(f"/api/v1/users/{target.id}/forget")).status_code


@pytest.mark.parametrize(
    ("actor", "target", "status"),
    [
        ("admin", "student", 202),
        ("admin", "teacher", 202),
        ("superadmin", "admin", 202),
        ("admin", "admin", 403),  # never oneself
        ("superadmin", "superadmin", 403),
        ("admin", "superadmin", 403),  # an admin does not manage admins
        ("teacher", "student", 403),
        ("student", "ta", 403),
        ("ta", "student", 403),
    ],
)
async def test_forgetting_follows_the_delete_permission(
    world: UsersWorld, actor: str, target: str, status: int
) -> None:
    target_user: User = getattr(world, target)
    assert await _forget_status(world, getattr(world, actor), target_user) == status
    queued = _forgotten(world)
    assert len(queued) == (1 if status == 202 else 0)
    # A refused request changes nothing about the account.
    account = world.auth.accounts.accounts[target_user.id]
    assert account.user.is_active is (status != 202)


async def test_forget_deactivates_anonymises_and_queues_the_event(world: UsersWorld) -> None:
    victim = await world.login(world.student)
    admin = await world.login(world.admin)

    response = await admin.post(f"/api/v1/users/{world.student.id}/forget")

    assert response.status_code == 202
    body = response.json()
    (event,) = _forgotten(world)
    assert body == {"user_id": world.student.id, "status": "forgetting", "event_id": event.event_id}
    assert event.subject == f"gateway.user.{world.student.id}.forgotten.v1"
    assert (event.data.user_id, event.data.forgotten_by) == (world.student.id, world.admin.id)
    # Sessions end at once, and the old credentials no longer open anything.
    assert (await victim.get("/api/v1/users/me")).status_code == 401
    assert (await victim.post("/api/v1/login/refresh")).status_code == 401
    for login in ("stu", "stu@example.org"):
        again = await world.anonymous().post(
            "/api/v1/login/access-token",
            files={"username": (None, login), "password": (None, PASSWORD)},
        )
        assert again.status_code == 400
    shown = (await admin.get(f"/api/v1/users/{world.student.id}")).json()
    assert shown["is_active"] is False
    assert shown["full_name"] is None
    assert shown["email"] == f"{world.student.id}@forgotten.invalid"
    assert shown["username"] == f"forgotten-{world.student.id}"
    assert "stu" not in str((await admin.get("/api/v1/users/", params={"search": "stu"})).json())


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


async def test_forget_ends_api_keys_removes_the_avatar_and_is_audited(world: UsersWorld) -> None:
    student = await world.login(world.student)
    created = await student.post("/api/v1/users/me/api-keys", json={"name": "ci"})
    assert created.status_code == 201, created.text
    uploaded = await student.post(
        "/api/v1/users/me/avatar", files={"file": ("me.png", _png(), "image/png")}
    )
    avatar = uploaded.json()["avatar_url"]
    admin = await world.login(world.admin)
    assert (await admin.get(avatar)).status_code == 200

    assert (await admin.post(f"/api/v1/users/{world.student.id}/forget")).status_code == 202

    assert all(k.revoked_at is not None for k in world.keys.keys.values())
    assert (await admin.get(avatar)).status_code == 404
    assert (await admin.get(f"/api/v1/users/{world.student.id}")).json()["avatar_url"] is None
    entries = world.auth.audit.entries
    actions = [e["action"] for e in entries if e["subject_id"] == world.student.id]
    assert "user_forgotten" in actions


async def test_forgetting_twice_is_accepted_and_queues_again(world: UsersWorld) -> None:
    admin = await world.login(world.admin)
    first = await admin.post(f"/api/v1/users/{world.student.id}/forget")
    second = await admin.post(f"/api/v1/users/{world.student.id}/forget")

    assert (first.status_code, second.status_code) == (202, 202)
    events = _forgotten(world)
    assert len(events) == 2
    assert events[0].event_id != events[1].event_id
    assert first.json()["user_id"] == second.json()["user_id"] == world.student.id


async def test_unknown_and_anonymous_forget_requests(world: UsersWorld) -> None:
    admin = await world.login(world.admin)
    missing = await admin.post(f"/api/v1/users/{uuid.uuid4()}/forget")
    assert missing.status_code == 404
    assert missing.json()["code"] == "user_not_found"
    anonymous = await world.anonymous().post(f"/api/v1/users/{world.student.id}/forget")
    assert anonymous.status_code == 401
    assert _forgotten(world) == []
