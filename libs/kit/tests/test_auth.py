"""The internal identity token and the ``Identity`` route dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from coagent_kit.app import build_app
from coagent_kit.auth import (
    ALGORITHM,
    HEADER,
    ISSUER,
    Identity,
    InternalIdentity,
    sign_identity,
    verify_identity,
)
from coagent_kit.errors import Unauthorized
from coagent_kit.settings import ServiceSettings

SECRET = "kit-tests-internal-secret-0123456789abcdef"
OTHER_SECRET = "another-secret-of-the-same-length-0123456789"
ALICE = InternalIdentity(
    user_id="u-alice", platform_role="teacher", resource_role="owner", request_id="rid-1"
)


def _claims(**overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": "demo",
        "typ": "internal",
        "sub": "u-alice",
        "role": "teacher",
        "iat": now,
        "exp": now + timedelta(minutes=1),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_round_trip() -> None:
    token = sign_identity(SECRET, ALICE, audience="demo")
    assert verify_identity(SECRET, token, "demo") == ALICE


def test_optional_fields_round_trip_as_none() -> None:
    bob = InternalIdentity(user_id="u-bob", platform_role="student")
    assert verify_identity(SECRET, sign_identity(SECRET, bob, "demo"), "demo") == bob


def _code_of(token: str, *, secret: str = SECRET, audience: str = "demo") -> str:
    with pytest.raises(Unauthorized) as info:
        verify_identity(secret, token, audience)
    assert info.value.status == 401
    return info.value.code


def test_wrong_audience_is_refused() -> None:
    token = sign_identity(SECRET, ALICE, audience="chat")
    assert _code_of(token, audience="demo") == "identity_invalid"


def test_wrong_secret_is_refused() -> None:
    token = sign_identity(OTHER_SECRET, ALICE, audience="demo")
    assert _code_of(token) == "identity_invalid"


def test_expired_token_is_refused() -> None:
    token = sign_identity(SECRET, ALICE, audience="demo", ttl=timedelta(minutes=-1))
    assert _code_of(token) == "identity_expired"


@pytest.mark.parametrize("typ", ["access", "refresh", None])
def test_other_token_type_is_refused(typ: str | None) -> None:
    token = jwt.encode(_claims(typ=typ), SECRET, algorithm=ALGORITHM)
    assert _code_of(token) == "identity_invalid"


def test_wrong_issuer_is_refused() -> None:
    token = jwt.encode(_claims(iss="someone-else"), SECRET, algorithm=ALGORITHM)
    assert _code_of(token) == "identity_invalid"


@pytest.mark.parametrize("claim", ["sub", "role", "exp", "aud"])
def test_missing_claim_is_refused(claim: str) -> None:
    token = jwt.encode(_claims(**{claim: None}), SECRET, algorithm=ALGORITHM)
    assert _code_of(token) == "identity_invalid"


def test_unsigned_token_is_refused() -> None:
    token = jwt.encode(_claims(), None, algorithm="none")
    assert _code_of(token) == "identity_invalid"


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", ""])
def test_garbage_is_refused(garbage: str) -> None:
    assert _code_of(garbage) == "identity_invalid"


# ------------------------------------------------------------------ the route dependency


@pytest.fixture
def app(demo_settings: ServiceSettings) -> FastAPI:
    app = build_app(demo_settings, title="demo")

    @app.get("/me")
    async def me(identity: Identity) -> dict[str, str | None]:
        return {"user_id": identity.user_id, "role": identity.resource_role}

    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        yield client


async def test_identity_missing(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "identity_missing"
    assert HEADER in body["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_identity_valid(client: httpx.AsyncClient) -> None:
    token = sign_identity(SECRET, ALICE, audience="demo")
    response = await client.get("/me", headers={HEADER: token})
    assert response.status_code == 200
    assert response.json() == {"user_id": "u-alice", "role": "owner"}


async def test_identity_for_another_service(client: httpx.AsyncClient) -> None:
    token = sign_identity(SECRET, ALICE, audience="chat")
    response = await client.get("/me", headers={HEADER: token})
    assert response.status_code == 401
    assert response.json()["code"] == "identity_invalid"


async def test_identity_expired(client: httpx.AsyncClient) -> None:
    token = sign_identity(SECRET, ALICE, audience="demo", ttl=timedelta(seconds=-30))
    response = await client.get("/me", headers={HEADER: token})
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}
    assert response.json()["code"] == "identity_expired"
