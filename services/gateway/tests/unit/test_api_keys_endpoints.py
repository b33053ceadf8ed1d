"""Personal API keys: shown once, stored hashed, scoped, expiring, last use recorded."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coagent_gateway.auth.domain import hash_token
from coagent_gateway.settings import GatewaySettings

from ..conftest import AuthKit
from .users_kit import UsersWorld, users_world

KEYS = "/api/v1/users/me/api-keys"


@pytest.fixture
async def world(
    settings: GatewaySettings, auth: AuthKit, tmp_path: Path
) -> AsyncIterator[UsersWorld]:
    async with users_world(settings, auth, tmp_path) as w:
        yield w


async def _create(world: UsersWorld, scopes: list[str], **extra: object) -> dict[str, object]:
    client = await world.login(world.teacher)
    response = await client.post(KEYS, json={"name": "ci", "scopes": scopes, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_created_key_is_shown_once_and_stored_hashed(world: UsersWorld) -> None:
    created = await _create(world, ["read", "write"])
    secret = created["key"]
    assert isinstance(secret, str)
    assert secret.startswith("cak_")
    assert len(secret) > 40
    assert created["scopes"] == ["read", "write"]
    assert created["expires_at"] is not None
    stored = world.keys.keys[str(created["id"])]
    assert stored.key_hash == hash_token(secret)
    assert secret not in repr(stored)
    client = await world.login(world.teacher)
    listed = (await client.get(KEYS)).json()
    assert len(listed) == 1
    assert "key" not in listed[0]
    assert secret not in str(listed)
    assert set(listed[0]) == {
        "id",
        "name",
        "masked_key",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
    }
    assert listed[0]["masked_key"].startswith("cak_")


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
async def test_key_authenticates_and_records_last_use(world: UsersWorld, header: str) -> None:
    created = await _create(world, ["read"])
    value = f"Bearer {created['key']}" if header == "authorization" else str(created["key"])
    program = world.anonymous(headers={header: value})
    me = await program.get("/api/v1/users/me")
    assert me.status_code == 200
    assert me.json()["id"] == world.teacher.id
    assert world.keys.keys[str(created["id"])].last_used_at is not None


async def test_read_only_key_cannot_write(world: UsersWorld) -> None:
    created = await _create(world, ["read"])
    program = world.anonymous(headers={"x-api-key": str(created["key"])})
    response = await program.put("/api/v1/users/me", json={"full_name": "Evil"})
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    deleted = await program.delete(f"{KEYS}/{created['id']}")
    assert deleted.status_code == 403


async def test_write_key_can_write_but_cannot_mint_keys(world: UsersWorld) -> None:
    created = await _create(world, ["write"])
    assert created["scopes"] == ["read", "write"]
    program = world.anonymous(headers={"authorization": f"Bearer {created['key']}"})
    updated = await program.put("/api/v1/users/me", json={"full_name": "Bot"})
    assert updated.status_code == 200
    minted = await program.post(KEYS, json={"name": "more"})
    assert minted.status_code == 403
    assert minted.json()["code"] == "session_required"


async def test_revoked_expired_and_unknown_keys_are_401(world: UsersWorld) -> None:
    created = await _create(world, ["read"])
    key_id, secret = str(created["id"]), str(created["key"])
    program = world.anonymous(headers={"x-api-key": secret})
    assert (await program.get("/api/v1/users/me")).status_code == 200
    world.keys.keys[key_id] = dataclasses.replace(
        world.keys.keys[key_id], expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    expired = await program.get("/api/v1/users/me")
    assert expired.status_code == 401
    assert expired.json()["code"] == "api_key_invalid"
    unknown = world.anonymous(headers={"x-api-key": "cak_" + "x" * 43})
    assert (await unknown.get("/api/v1/users/me")).status_code == 401

    fresh = await _create(world, ["read"])
    owner = await world.login(world.teacher)
    assert (await owner.delete(f"{KEYS}/{fresh['id']}")).status_code == 204
    revoked = world.anonymous(headers={"x-api-key": str(fresh["key"])})
    assert (await revoked.get("/api/v1/users/me")).status_code == 401
    # The expired key is still listed (with its expiry); the revoked one is gone.
    assert [k["id"] for k in (await owner.get(KEYS)).json()] == [key_id]


async def test_keys_are_private_to_their_owner(world: UsersWorld) -> None:
    created = await _create(world, ["read"])
    other = await world.login(world.student)
    assert (await other.get(KEYS)).json() == []
    stolen = await other.delete(f"{KEYS}/{created['id']}")
    assert stolen.status_code == 404
    assert stolen.json()["code"] == "api_key_not_found"


async def test_keys_die_with_a_deactivated_account(world: UsersWorld) -> None:
    created = await _create(world, ["read", "write"])
    admin = await world.login(world.admin)
    await admin.delete(f"/api/v1/users/{world.teacher.id}")
    program = world.anonymous(headers={"x-api-key": str(created["key"])})
    assert (await program.get("/api/v1/users/me")).status_code == 401
    assert world.keys.keys[str(created["id"])].revoked_at is not None


async def test_expiry_and_scope_validation(world: UsersWorld) -> None:
    client = await world.login(world.teacher)
    too_long = await client.post(KEYS, json={"name": "x", "expires_in_days": 1000})
    assert too_long.status_code == 422
    bad_scope = await client.post(KEYS, json={"name": "x", "scopes": ["admin"]})
    assert bad_scope.status_code == 422
    default = await client.post(KEYS, json={"name": "x"})
    assert default.json()["scopes"] == ["read"]


async def test_key_creation_and_revocation_are_audited(world: UsersWorld) -> None:
    created = await _create(world, ["read"])
    owner = await world.login(world.teacher)
    await owner.delete(f"{KEYS}/{created['id']}")
    actions = world.auth.audit.actions()
    assert "api_key_created" in actions
    assert "api_key_revoked" in actions
    assert str(created["key"]) not in str(world.auth.audit.entries)
