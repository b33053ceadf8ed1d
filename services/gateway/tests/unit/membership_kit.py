"""A gateway app with the membership routes on memory adapters, and signed-in test users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from coagent_gateway.adapters.membership_memory import (
    MembershipState,
    MemoryCourseStore,
    MemoryOrganizationStore,
    MemoryRoomStore,
)
from coagent_gateway.auth.endpoints import router as auth_router
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.rooms.wiring import MembershipStores, install_membership
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app

from ..conftest import AuthKit

BASE = "http://gateway.test"
PASSWORD = "correct-horse"


class MembershipKit:
    """Memory stores, the app on them, and bearer tokens for users created through ``AuthKit``."""

    def __init__(self, settings: GatewaySettings, auth: AuthKit) -> None:
        self.auth = auth
        self.state = MembershipState()
        self.courses = MemoryCourseStore(self.state)
        self.rooms = MemoryRoomStore(self.state)
        self.orgs = MemoryOrganizationStore(self.state)
        self.app: FastAPI = build_app(settings, title="test gateway")
        self.app.state.auth = auth.service
        self.app.state.auth_codec = auth.codec
        self.app.include_router(auth_router)
        install_membership(
            self.app,
            MembershipStores(self.state.directory, self.courses, self.rooms, self.orgs, auth.audit),
        )
        self.tokens: dict[str, str] = {}

    async def user(self, name: str, role: PlatformRole = PlatformRole.STUDENT) -> User:
        """A signed-in user called ``name`` (email ``name@example.org``)."""
        user = self.auth.add_user(name, PASSWORD, role=role)
        self.state.directory.add(user)
        session = await self.auth.service.login(name, PASSWORD, None)
        self.tokens[user.id] = session.access_token
        return user

    def headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user.id]}"}

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            yield c


class As:
    """HTTP calls made as one user."""

    def __init__(self, kit: MembershipKit, client: httpx.AsyncClient, user: User) -> None:
        self.kit, self.client, self.user = kit, client, user

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.kit.headers(self.user))

    async def post(self, path: str, body: object) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.kit.headers(self.user))

    async def put(self, path: str, body: object) -> httpx.Response:
        return await self.client.put(path, json=body, headers=self.kit.headers(self.user))

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(path, headers=self.kit.headers(self.user))


@dataclass
class World:
    """A course with its people, and a client to act as any of them."""

    kit: MembershipKit
    client: httpx.AsyncClient
    teacher: User
    ta: User
    student: User
    outsider: User
    admin: User
    course_id: str

    def as_(self, user: User) -> As:
        return As(self.kit, self.client, user)


@asynccontextmanager
async def course_world(settings: GatewaySettings, auth: AuthKit) -> AsyncIterator[World]:
    """A teacher's course with a TA and a student; an outsider and an admin stand by."""
    kit = MembershipKit(settings, auth)
    teacher = await kit.user("tess", PlatformRole.TEACHER)
    ta, student = await kit.user("tad"), await kit.user("stu")
    outsider = await kit.user("otto")
    admin = await kit.user("adam", PlatformRole.ADMIN)
    async with kit.client() as client:
        t = As(kit, client, teacher)
        created = await t.post("/api/v1/courses/", {"title": "Algebra", "description": "x"})
        assert created.status_code == 201, created.text
        course_id = created.json()["id"]
        for user, role in ((ta, "ta"), (student, "student")):
            body = {"user_id": user.id, "user_email": None, "role": role}
            assert (await t.post(f"/api/v1/courses/{course_id}/enroll", body)).status_code == 200
        yield World(kit, client, teacher, ta, student, outsider, admin, course_id)
