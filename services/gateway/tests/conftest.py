"""Fixtures shared by the gateway tests."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from coagent_gateway.adapters.auth_memory import (
    CheckingPlainHasher,
    MemoryAccountStore,
    MemoryAuditLog,
    MemoryLoginThrottle,
    MemoryRefreshTokenStore,
    MemorySessionRevocations,
)
from coagent_gateway.auth.endpoints import router as auth_router
from coagent_gateway.auth.service import AuthPorts, AuthService
from coagent_gateway.auth.tokens import AccessTokenCodec
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app

SECRET = "test-internal-secret-0123456789abcdefghij"
JWT_SECRET = "test-jwt-secret-0123456789abcdefghijklmnop"


@pytest.fixture
def settings() -> GatewaySettings:
    """Test settings with known secrets (32+ bytes for PyJWT)."""
    return GatewaySettings(
        env="test", internal_token_secret=SecretStr(SECRET), jwt_secret=SecretStr(JWT_SECRET)
    )


class AuthKit:
    """An :class:`AuthService` on memory adapters, with handles on each for assertions."""

    def __init__(self) -> None:
        self.accounts = MemoryAccountStore()
        self.tokens = MemoryRefreshTokenStore()
        self.revocations = MemorySessionRevocations()
        self.throttle = MemoryLoginThrottle()
        self.audit = MemoryAuditLog()
        self.hasher = CheckingPlainHasher()
        self.codec = AccessTokenCodec(JWT_SECRET)
        self.service = AuthService(
            AuthPorts(
                self.accounts, self.tokens, self.revocations, self.throttle, self.audit, self.hasher
            ),
            self.codec,
        )

    def add_user(
        self,
        username: str = "ada",
        password: str = "correct-horse",
        *,
        active: bool = True,
        role: PlatformRole = PlatformRole.STUDENT,
    ) -> User:
        """Register a user whose password is ``password``."""
        user = User(
            id=str(uuid.uuid4()),
            email=f"{username}@example.org",
            username=username,
            platform_role=role,
            full_name=username.title(),
            is_active=active,
        )
        self.accounts.add(user, self.hasher.hash(password))
        return user


@pytest.fixture
def auth() -> AuthKit:
    """A fresh in-memory auth service."""
    return AuthKit()


@pytest.fixture
def auth_app(settings: GatewaySettings, auth: AuthKit) -> FastAPI:
    """The gateway's auth routes on the memory auth service."""
    app = build_app(settings, title="test gateway")
    app.state.auth = auth.service
    app.state.auth_codec = auth.codec
    app.include_router(auth_router)
    return app
