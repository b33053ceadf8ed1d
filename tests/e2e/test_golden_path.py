"""The reference client's golden path (frontend-client.md §5) over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from coagent_cli.fleet import Fleet

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = pytest.mark.e2e


def _ws_url(fleet: Fleet, path: str) -> str:
    return fleet.gateway_url.replace("http://", "ws://") + path


def _cookie_header(client: httpx.Client) -> str:
    return f"access_token={client.cookies.get('access_token', path='/')}"


async def _next_message(ws: Any, content: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame.get("content") == content:
            return frame


@pytest.fixture(scope="module")
def classroom(fleet: Fleet) -> dict[str, str]:
    """A course with one room, a student enrolled in it."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        course = admin.post("/api/v1/courses/", json={"title": "Graphs", "description": "d"})
        assert course.status_code in (200, 201), course.text
        course_id = course.json()["id"]
        room = admin.post("/api/v1/rooms/", json={"name": "Lab", "course_id": course_id})
        assert room.status_code in (200, 201), room.text
        student = admin.post(
            "/api/v1/users/",
            json={
                "email": f"stu-{suffix}@example.org",
                "username": f"stu{suffix}",
                "password": "student-pass-1",
                "full_name": "Stu Dent",
                "role": "student",
            },
        )
        assert student.status_code in (200, 201), student.text
        enrolled = admin.post(
            f"/api/v1/courses/{course_id}/enroll",
            json={"user_email": None, "user_id": student.json()["id"], "role": "student"},
        )
        assert enrolled.status_code < 300, enrolled.text
        admin.post(
            "/api/v1/announcements/",
            json={"course_id": course_id, "title": "Welcome", "content": "Read the syllabus"},
        )
    return {
        "course_id": course_id,
        "room_id": room.json()["id"],
        "student_id": student.json()["id"],
        "username": f"stu{suffix}",
    }


def test_golden_path(fleet: Fleet, classroom: dict[str, str]) -> None:
    course_id, room_id = classroom["course_id"], classroom["room_id"]
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as client:
        assert client.post("/api/v1/login/test-token").json() is None
        bad = client.post(
            "/api/v1/login/access-token",
            files={"username": (None, classroom["username"]), "password": (None, "nope")},
        )
        assert bad.status_code == 400
        assert bad.json()["detail"]
        login(client, classroom["username"], "student-pass-1")
        me = client.post("/api/v1/login/test-token").json()
        assert me["id"] == classroom["student_id"]

        courses = client.get("/api/v1/courses/").json()
        assert [c["id"] for c in courses] == [course_id]
        assert client.get(f"/api/v1/courses/{course_id}").json()["title"] == "Graphs"
        rooms = client.get("/api/v1/rooms/", params={"course_id": course_id}).json()
        assert [r["id"] for r in rooms] == [room_id]
        news = client.get("/api/v1/announcements/", params={"course_id": course_id}).json()
        assert [a["title"] for a in news] == ["Welcome"]
        assert isinstance(client.get(f"/api/v1/chat/messages/{room_id}").json(), list)

        echo = asyncio.run(_say_hello(fleet, room_id, _cookie_header(client)))
        assert echo["type"] == "message"
        assert echo["sender"] == "Stu Dent"
        assert echo["metadata"]["sender_id"] == classroom["student_id"]
        assert echo["metadata"]["is_ai"] is False
        history = client.get(f"/api/v1/chat/messages/{room_id}").json()
        assert history[-1]["content"] == "hello from the golden path"

        client.cookies.delete("access_token")
        assert client.get("/api/v1/courses/").status_code == 401
        assert client.post("/api/v1/login/refresh").status_code == 200
        assert client.get("/api/v1/courses/").status_code == 200

        old_refresh = client.cookies.get("refresh_token")
        assert client.post("/api/v1/login/logout").status_code == 200
        client.cookies.set("refresh_token", old_refresh or "", path="/api/v1/login")
        assert client.post("/api/v1/login/refresh").status_code == 401


async def _say_hello(fleet: Fleet, room_id: str, cookie: str) -> dict[str, Any]:
    url = _ws_url(fleet, f"/api/v1/chat/ws/{room_id}")
    async with connect(url, additional_headers={"Cookie": cookie}) as ws:
        await asyncio.sleep(0.3)  # the live subscription is in place before we speak
        await ws.send("hello from the golden path")
        return await _next_message(ws, "hello from the golden path")


def test_socket_refuses_strangers_with_a_reason(fleet: Fleet, classroom: dict[str, str]) -> None:
    async def attempt(cookie: str | None) -> int | None:
        headers = {"Cookie": cookie} if cookie else {}
        url = _ws_url(fleet, f"/api/v1/chat/ws/{classroom['room_id']}")
        async with connect(url, additional_headers=headers) as ws:
            await asyncio.wait_for(ws.wait_closed(), 10)
            return ws.close_code

    assert asyncio.run(attempt(None)) == 4401


def test_multiplexed_socket_resumes_each_room_from_its_seq(
    fleet: Fleet, classroom: dict[str, str]
) -> None:
    room_id = classroom["room_id"]
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as client:
        login(client, classroom["username"], "student-pass-1")
        cookie = _cookie_header(client)

    async def run() -> list[int]:
        async with connect(
            _ws_url(fleet, "/api/v1/ws"), additional_headers={"Cookie": cookie}
        ) as ws:
            for text in ("one", "two", "three"):
                await ws.send(
                    json.dumps({"op": "post", "topic": f"room:{room_id}", "content": text})
                )
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["op"] == "posted"
            await ws.send(json.dumps({"op": "subscribe", "topic": f"room:{room_id}", "since": 0}))
            seqs: list[int] = []
            while len(seqs) < 3:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if message["op"] == "event" and message["data"].get("content") in (
                    "one",
                    "two",
                    "three",
                ):
                    seqs.append(message["data"]["seq"])
            return seqs

    seqs = asyncio.run(run())
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3


def test_socket_refuses_pages_from_other_origins(fleet: Fleet, classroom: dict[str, str]) -> None:
    """F29: a valid cookie sent by another site's page does not open the room."""
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as client:
        login(client, classroom["username"], "student-pass-1")
        cookie = _cookie_header(client)

    async def attempt(origin: str) -> int | None:
        url = _ws_url(fleet, f"/api/v1/chat/ws/{classroom['room_id']}")
        headers = {"Cookie": cookie, "Origin": origin}
        async with connect(url, additional_headers=headers) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 2)
            except TimeoutError:
                return None  # still open: accepted
            except ConnectionClosed:
                return ws.close_code
            return None  # a frame arrived: accepted

    assert asyncio.run(attempt("https://evil.example")) == 4403
    assert asyncio.run(attempt(fleet.gateway_url)) is None


def test_table_browser_is_super_admin_only_and_hides_secrets(
    fleet: Fleet, classroom: dict[str, str]
) -> None:
    """F13: the raw browser is for super admins, lists no secrets and answers errors cleanly."""
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        tables = admin.get("/api/v1/admin/db/tables").json()
        assert {"users", "courses", "rooms", "audit_log"} <= set(tables)
        users = admin.get("/api/v1/admin/db/tables/users", params={"limit": 1000}).json()
        assert any(u["username"] == classroom["username"] for u in users)
        assert all("hashed_password" not in u for u in users)
        found = admin.get(
            "/api/v1/admin/db/tables/users", params={"search": classroom["username"]}
        ).json()
        assert [u["username"] for u in found] == [classroom["username"]]
        missing = admin.get("/api/v1/admin/db/tables/refresh_tokens")
        assert missing.status_code == 404
        assert missing.json()["code"] == "table_not_found"
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as student:
        login(student, classroom["username"], "student-pass-1")
        assert student.get("/api/v1/admin/db/tables").status_code == 403
