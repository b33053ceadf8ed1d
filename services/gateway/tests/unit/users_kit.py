"""An app with the auth and users features on memory adapters, and logged-in clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import FastAPI

from coagent_gateway.adapters.media import LocalMediaStore
from coagent_gateway.adapters.users_memory import (
    MemoryApiKeyStore,
    MemoryAuditReader,
    MemoryUserDirectory,
)
from coagent_gateway.auth.endpoints import router as auth_router
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.settings import GatewaySettings
from coagent_gateway.users.service import UserPorts
from coagent_gateway.users.wiring import install_users
from coagent_kit.app import build_app

from ..conftest import AuthKit

BASE = "http://gateway.test"
PASSWORD = "correct-horse"


@dataclass
class UsersWorld:
    """Users of every platform role, the app, and a way to act as each of them."""

    auth: AuthKit
    directory: MemoryUserDirectory
    keys: MemoryApiKeyStore
    media: LocalMediaStore
    app: FastAPI
    superadmin: User
    admin: User
    teacher: User
    ta: User
    student: User
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def anonymous(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        """A client with no session."""
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=BASE, headers=headers
        )
        self._clients.append(client)
        return client

    async def login(self, user: User, password: str = PASSWORD) -> httpx.AsyncClient:
        """A client holding ``user``'s session cookies."""
        client = self.anonymous()
        response = await client.post(
            "/api/v1/login/access-token",
            files={"username": (None, user.username), "password": (None, password)},
        )
        assert response.status_code == 200, response.text
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


@asynccontextmanager
async def users_world(
    settings: GatewaySettings, auth: AuthKit, media_dir: Path
) -> AsyncIterator[UsersWorld]:
    """Build the world; close every client afterwards."""
    app = build_app(settings, title="test gateway")
    app.state.auth = auth.service
    app.state.auth_codec = auth.codec
    app.include_router(auth_router)
    directory = MemoryUserDirectory(auth.accounts)
    keys = MemoryApiKeyStore()
    media = LocalMediaStore(media_dir)
    install_users(
        app,
        UserPorts(
            directory=directory,
            hasher=auth.hasher,
            audit=auth.audit,
            audit_reader=MemoryAuditReader(auth.audit),
            avatars=media,
            api_keys=keys,
            sessions=auth.service,
        ),
        auth.accounts,
    )
    world = UsersWorld(
        auth=auth,
        directory=directory,
        keys=keys,
        media=media,
        app=app,
        superadmin=auth.add_user("root", role=PlatformRole.SUPER_ADMIN),
        admin=auth.add_user("adam", role=PlatformRole.ADMIN),
        teacher=auth.add_user("tess", role=PlatformRole.TEACHER),
        ta=auth.add_user("tim", role=PlatformRole.TA),
        student=auth.add_user("stu", role=PlatformRole.STUDENT),
    )
    try:
        yield world
    finally:
        await world.close()
