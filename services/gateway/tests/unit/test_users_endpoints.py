"""``/api/v1/users``: shapes, the directory rules and the seed findings about users (F3, F4,
F7, F17, F31)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coagent_gateway.settings import GatewaySettings

from ..conftest import AuthKit
from .users_kit import PASSWORD, UsersWorld, users_world

USER_KEYS = {"id", "email", "username", "full_name", "role", "is_active", "avatar_url"}
SECRET_WORDS = ("password", "hash", "secret", "google_sub", "token")


@pytest.fixture
async def world(
    settings: GatewaySettings, auth: AuthKit, tmp_path: Path
) -> AsyncIterator[UsersWorld]:
    async with users_world(settings, auth, tmp_path) as w:
        yield w


def _no_secrets(body: object) -> None:
    items = body if isinstance(body, list) else [body]
    for item in items:
        assert isinstance(item, dict)
        for key in item:
            assert not any(word in key.lower() for word in SECRET_WORDS), key


def _new(role: str = "student", name: str = "neo") -> dict[str, str]:
    return {
        "email": f"{name}@example.org",
        "username": name,
        "password": "long-enough-pw",
        "full_name": name.title(),
        "role": role,
    }


async def test_me_and_read_self_use_the_public_shape(world: UsersWorld) -> None:
    client = await world.login(world.student)
    me = await client.get("/api/v1/users/me")
    assert me.status_code == 200
    assert set(me.json()) == USER_KEYS
    _no_secrets(me.json())
    one = await client.get(f"/api/v1/users/{world.student.id}")
    assert one.json() == me.json()


async def test_no_user_response_carries_a_hash_or_secret(world: UsersWorld) -> None:
    """F4: the raw user row (with its password hash) must never reach a client."""
    admin = await world.login(world.superadmin)
    created = await admin.post("/api/v1/users/", json=_new())
    responses = [
        created,
        await admin.get("/api/v1/users/"),
        await admin.get(f"/api/v1/users/{world.student.id}"),
        await admin.put(f"/api/v1/users/{world.student.id}", json={"full_name": "S"}),
        await admin.get("/api/v1/users/search", params={"q": "example"}),
        await admin.post("/api/v1/login/test-token"),
        await admin.delete(f"/api/v1/users/{created.json()['id']}"),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.text
        _no_secrets(response.json())
        assert "plain:" not in response.text


async def test_reading_another_user_needs_admin(world: UsersWorld) -> None:
    student = await world.login(world.student)
    assert (await student.get(f"/api/v1/users/{world.teacher.id}")).status_code == 403
    admin = await world.login(world.admin)
    assert (await admin.get(f"/api/v1/users/{world.teacher.id}")).status_code == 200
    missing = await admin.get("/api/v1/users/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["code"] == "user_not_found"


async def test_listing_is_for_admins_with_paging_and_search(world: UsersWorld) -> None:
    for user in (world.student, world.teacher, world.ta):
        client = await world.login(user)
        assert (await client.get("/api/v1/users/")).status_code == 403
    admin = await world.login(world.admin)
    everyone = (await admin.get("/api/v1/users/")).json()
    assert len(everyone) == 5
    assert {"id", "email", "username", "full_name", "role", "is_active"} <= set(everyone[0])
    page = (await admin.get("/api/v1/users/", params={"skip": 1, "limit": 2})).json()
    assert [u["id"] for u in page] == [u["id"] for u in everyone[1:3]]
    found = (await admin.get("/api/v1/users/", params={"search": "TESS"})).json()
    assert [u["username"] for u in found] == ["tess"]


async def test_anonymous_requests_are_401(world: UsersWorld) -> None:
    client = world.anonymous()
    assert (await client.get("/api/v1/users/me")).status_code == 401
    assert (await client.get("/api/v1/users/")).status_code == 401


async def test_admin_creates_users_with_unique_case_insensitive_email(world: UsersWorld) -> None:
    admin = await world.login(world.admin)
    created = await admin.post("/api/v1/users/", json=_new("teacher"))
    assert created.status_code == 201
    assert created.json()["role"] == "teacher"
    assert created.json()["email"] == "neo@example.org"
    clash = await admin.post(
        "/api/v1/users/", json={**_new(name="other"), "email": "NEO@Example.org"}
    )
    assert clash.status_code == 409
    assert clash.json()["code"] == "email_taken"
    same_name = await admin.post(
        "/api/v1/users/", json={**_new(name="neo"), "email": "neo2@example.org"}
    )
    assert same_name.status_code == 409
    assert same_name.json()["code"] == "username_taken"
    new = await world.anonymous().post(
        "/api/v1/login/access-token",
        files={"username": (None, "NEO@example.org"), "password": (None, "long-enough-pw")},
    )
    assert new.status_code == 200


async def test_create_validates_password_email_and_username(world: UsersWorld) -> None:
    admin = await world.login(world.admin)
    short = await admin.post("/api/v1/users/", json={**_new(), "password": "short"})
    assert short.status_code == 422
    assert short.json()["code"] == "weak_password"
    bad_email = await admin.post("/api/v1/users/", json={**_new(), "email": "not-an-email"})
    assert bad_email.json()["code"] == "invalid_email"
    # F31: a username must never look like an email (login accepts either).
    at_name = await admin.post("/api/v1/users/", json={**_new(), "username": "tess@example.org"})
    assert at_name.status_code == 422
    assert at_name.json()["code"] == "invalid_username"
    no_name = await admin.post("/api/v1/users/", json={**_new(), "username": ""})
    assert no_name.status_code == 201
    assert no_name.json()["username"] == "neo"


async def test_only_super_admin_creates_admins(world: UsersWorld) -> None:
    """F17/F9: admin roles are the super admin's; staff below admin create nobody."""
    for user in (world.teacher, world.ta, world.student):
        client = await world.login(user)
        for role in ("admin", "student"):
            response = await client.post("/api/v1/users/", json=_new(role, f"x{role}"))
            assert response.status_code == 403, (user.username, role)
    admin = await world.login(world.admin)
    for role in ("admin", "super_admin"):
        assert (await admin.post("/api/v1/users/", json=_new(role, role))).status_code == 403
    root = await world.login(world.superadmin)
    made = await root.post("/api/v1/users/", json=_new("admin", "boss"))
    assert made.status_code == 201
    assert made.json()["role"] == "admin"


async def test_nobody_promotes_themself(world: UsersWorld) -> None:
    """F3: ``PUT /users/{own id} {"role": "teacher"}`` must not work, nor through /me."""
    for user in (world.student, world.ta, world.teacher, world.admin, world.superadmin):
        client = await world.login(user)
        target = "teacher" if user is not world.teacher else "admin"
        response = await client.put(f"/api/v1/users/{user.id}", json={"role": target})
        assert response.status_code == 403, user.username
        await client.put("/api/v1/users/me", json={"full_name": "X", "role": "super_admin"})
        me = (await client.get("/api/v1/users/me")).json()
        assert me["role"] == user.platform_role.value


async def test_own_edit_form_resending_the_same_role_works(world: UsersWorld) -> None:
    student = await world.login(world.student)
    response = await student.put(
        f"/api/v1/users/{world.student.id}",
        json={"full_name": "Stu Dent", "role": "student", "username": "stu", "password": ""},
    )
    assert response.status_code == 200
    assert response.json()["full_name"] == "Stu Dent"


async def test_role_changes_follow_the_policy(world: UsersWorld) -> None:
    admin = await world.login(world.admin)
    promoted = await admin.put(f"/api/v1/users/{world.student.id}", json={"role": "teacher"})
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "teacher"
    to_admin = await admin.put(f"/api/v1/users/{world.student.id}", json={"role": "admin"})
    assert to_admin.status_code == 403
    on_root = await admin.put(f"/api/v1/users/{world.superadmin.id}", json={"full_name": "R"})
    assert on_root.status_code == 403
    teacher = await world.login(world.teacher)
    minted = await teacher.put(f"/api/v1/users/{world.student.id}", json={"role": "ta"})
    assert minted.status_code == 403
    root = await world.login(world.superadmin)
    made_admin = await root.put(f"/api/v1/users/{world.teacher.id}", json={"role": "admin"})
    assert made_admin.json()["role"] == "admin"


async def test_admin_sets_a_password_and_username_conflicts_are_409(world: UsersWorld) -> None:
    admin = await world.login(world.admin)
    changed = await admin.put(
        f"/api/v1/users/{world.student.id}", json={"password": "brand-new-pass"}
    )
    assert changed.status_code == 200
    login = await world.anonymous().post(
        "/api/v1/login/access-token",
        files={"username": (None, "stu"), "password": (None, "brand-new-pass")},
    )
    assert login.status_code == 200
    clash = await admin.put(f"/api/v1/users/{world.student.id}", json={"username": "tess"})
    assert clash.status_code == 409
    assert clash.json()["code"] == "username_taken"


async def test_update_me_changes_profile_and_checks_username(world: UsersWorld) -> None:
    """F31: ``PUT /users/me`` checks username uniqueness (409, not a 500)."""
    client = await world.login(world.student)
    ok = await client.put("/api/v1/users/me", json={"full_name": "New Name", "avatar_url": None})
    assert ok.status_code == 200
    assert ok.json()["full_name"] == "New Name"
    clash = await client.put("/api/v1/users/me", json={"full_name": "N", "username": "tess"})
    assert clash.status_code == 409
    assert clash.json()["code"] == "username_taken"
    weak = await client.put("/api/v1/users/me", json={"password": "short"})
    assert weak.status_code == 422
    foreign = await client.put("/api/v1/users/me", json={"avatar_url": "https://evil.test/x.svg"})
    assert foreign.status_code == 422
    assert foreign.json()["code"] == "invalid_avatar_url"


async def test_delete_deactivates_and_ends_sessions(world: UsersWorld) -> None:
    victim = await world.login(world.student)
    assert (await victim.get("/api/v1/users/me")).status_code == 200
    admin = await world.login(world.admin)
    deleted = await admin.delete(f"/api/v1/users/{world.student.id}")
    assert deleted.status_code == 200
    assert deleted.json()["is_active"] is False
    assert (await victim.get("/api/v1/users/me")).status_code == 401
    assert (await victim.post("/api/v1/login/refresh")).status_code == 401
    again = await world.anonymous().post(
        "/api/v1/login/access-token",
        files={"username": (None, "stu"), "password": (None, PASSWORD)},
    )
    assert again.status_code == 400
    restored = await admin.put(f"/api/v1/users/{world.student.id}", json={"is_active": True})
    assert restored.json()["is_active"] is True
    # Re-activation does not revive the old session.
    assert (await victim.get("/api/v1/users/me")).status_code == 401
    assert (await victim.post("/api/v1/login/refresh")).status_code == 401


async def test_delete_rules(world: UsersWorld) -> None:
    admin = await world.login(world.admin)
    assert (await admin.delete(f"/api/v1/users/{world.admin.id}")).status_code == 403
    assert (await admin.delete(f"/api/v1/users/{world.superadmin.id}")).status_code == 403
    root = await world.login(world.superadmin)
    assert (await root.delete(f"/api/v1/users/{world.superadmin.id}")).status_code == 403
    assert (await root.delete(f"/api/v1/users/{world.admin.id}")).status_code == 200
    teacher = await world.login(world.teacher)
    assert (await teacher.delete(f"/api/v1/users/{world.student.id}")).status_code == 403


async def test_search_is_staff_only_case_insensitive_and_small(world: UsersWorld) -> None:
    """F7: a student cannot enumerate emails through the people picker."""
    for user in (world.student, world.ta):
        client = await world.login(user)
        denied = await client.get("/api/v1/users/search", params={"q": "example"})
        assert denied.status_code == 403
        assert "example.org" not in denied.text
    teacher = await world.login(world.teacher)
    hits = (await teacher.get("/api/v1/users/search", params={"q": "STU"})).json()
    assert hits == [
        {"id": world.student.id, "email": "stu@example.org", "full_name": "Stu", "username": "stu"}
    ]
    many = await teacher.get("/api/v1/users/search", params={"q": "example", "limit": 2})
    assert len(many.json()) == 2
    too_many = await teacher.get("/api/v1/users/search", params={"q": "e", "limit": 1000})
    assert too_many.status_code == 422
    wildcard = await teacher.get("/api/v1/users/search", params={"q": "%"})
    assert wildcard.json() == []


async def test_search_hides_deactivated_users(world: UsersWorld) -> None:
    admin = await world.login(world.admin)
    await admin.delete(f"/api/v1/users/{world.student.id}")
    hits = (await admin.get("/api/v1/users/search", params={"q": "stu"})).json()
    assert hits == []


async def test_non_uuid_ids_do_not_match_user_routes(world: UsersWorld) -> None:
    """``/users/keys`` belongs to the key wallet; ``/users/{id}`` only takes ids."""
    admin = await world.login(world.admin)
    assert (await admin.get("/api/v1/users/keys")).status_code == 404
