"""Live room state over the real fleet: presence, typing, and a removed member's socket closing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from coagent_cli.fleet import Fleet

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = pytest.mark.e2e
PASSWORD = "student-pass-1"


def _ws_url(fleet: Fleet, path: str) -> str:
    return fleet.gateway_url.replace("http://", "ws://") + path


def _cookie(fleet: Fleet, username: str, password: str = PASSWORD) -> str:
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as client:
        login(client, username, password)
        return f"access_token={client.cookies.get('access_token', path='/')}"


@pytest.fixture(scope="module")
def lab(fleet: Fleet) -> dict[str, Any]:
    """A course with one room and two enrolled students, Ann and Ben."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        course = admin.post("/api/v1/courses/", json={"title": "Live", "description": "d"})
        assert course.status_code in (200, 201), course.text
        course_id = course.json()["id"]
        room = admin.post("/api/v1/rooms/", json={"name": "Lab", "course_id": course_id})
        assert room.status_code in (200, 201), room.text
        students = {}
        for name in ("Ann", "Ben"):
            username = f"{name.lower()}{suffix}"
            created = admin.post(
                "/api/v1/users/",
                json={
                    "email": f"{username}@example.org",
                    "username": username,
                    "password": PASSWORD,
                    "full_name": f"{name} Live",
                    "role": "student",
                },
            )
            assert created.status_code in (200, 201), created.text
            enrolled = admin.post(
                f"/api/v1/courses/{course_id}/enroll",
                json={"user_email": None, "user_id": created.json()["id"], "role": "student"},
            )
            assert enrolled.status_code < 300, enrolled.text
            students[name] = {"id": created.json()["id"], "username": username}
    return {"course_id": course_id, "room_id": room.json()["id"], "students": students}


async def _frame(ws: ClientConnection, match: Any, within: float = 10) -> dict[str, Any]:
    """The first JSON frame for which ``match`` is true."""
    deadline = time.monotonic() + within
    while True:
        raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
        frame: dict[str, Any] = json.loads(raw)
        if match(frame):
            return frame


def _users(frame: dict[str, Any]) -> set[str]:
    return {u["user_id"] for u in frame["users"]}


def test_presence_typing_and_revocation(fleet: Fleet, lab: dict[str, Any]) -> None:
    room_id, ann, ben = lab["room_id"], lab["students"]["Ann"], lab["students"]["Ben"]
    ann_cookie, ben_cookie = _cookie(fleet, ann["username"]), _cookie(fleet, ben["username"])
    admin_cookie = _cookie(fleet, ADMIN_EMAIL, ADMIN_PASSWORD)
    both = {ann["id"], ben["id"]}
    topic = f"room:{room_id}"

    async def run() -> tuple[int | None, str, float]:
        legacy_url = _ws_url(fleet, f"/api/v1/chat/ws/{room_id}")
        async with (
            connect(legacy_url, additional_headers={"Cookie": ann_cookie}) as ann_ws,
            connect(
                _ws_url(fleet, "/api/v1/ws"), additional_headers={"Cookie": ben_cookie}
            ) as ben_ws,
        ):
            await ben_ws.send(json.dumps({"op": "subscribe", "topic": topic, "id": 1}))

            # Each sees both of them present; Ann's (reference) socket gets no chat bubble.
            seen = await _frame(ann_ws, lambda f: f.get("type") == "presence" and _users(f) == both)
            assert "sender" not in seen
            assert "content" not in seen
            await _frame(
                ben_ws,
                lambda m: (
                    m.get("op") == "event"
                    and m["data"].get("type") == "presence"
                    and _users(m["data"]) == both
                ),
            )

            # Ben types on the multiplexed socket; Ann sees it.
            await ben_ws.send(json.dumps({"op": "typing", "topic": topic}))
            typing = await _frame(ann_ws, lambda f: f.get("type") == "typing")
            assert typing == {
                "type": "typing",
                "room_id": room_id,
                "user_id": ben["id"],
                "name": "Ben Live",
                "expires_in_s": 5,
            }

            # The admin removes Ann from the course: her socket closes with 4403.
            started = time.monotonic()
            async with httpx.AsyncClient(
                base_url=fleet.gateway_url, timeout=10, headers={"Cookie": admin_cookie}
            ) as admin:
                removed = await admin.delete(
                    f"/api/v1/courses/{lab['course_id']}/members/{ann['id']}"
                )
                assert removed.status_code < 300, removed.text
            await asyncio.wait_for(ann_ws.wait_closed(), 10)
            elapsed = time.monotonic() - started
            # Ben sees her gone.
            await _frame(
                ben_ws,
                lambda m: (
                    m.get("op") == "event"
                    and m["data"].get("type") == "presence"
                    and _users(m["data"]) == {ben["id"]}
                ),
            )
            return ann_ws.close_code, ann_ws.close_reason or "", elapsed

    code, reason, elapsed = asyncio.run(run())
    assert code == 4403
    assert "revoked" in reason
    assert elapsed < 10
