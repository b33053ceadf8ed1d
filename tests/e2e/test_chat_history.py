"""Room history over HTTP on the real fleet: idempotent posts, paging, artifacts by id, forgetting.

Each test gets its own room, so sequence numbers and listings are its own.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from coagent_cli.fleet import Fleet

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = pytest.mark.e2e
PASSWORD = "student-pass-1"


def _ws_url(fleet: Fleet, path: str) -> str:
    return fleet.gateway_url.replace("http://", "ws://") + path


@pytest.fixture(scope="module")
def school(fleet: Fleet) -> dict[str, str]:
    """A course owned by the admin, a student enrolled in it and an outsider who is not."""
    suffix = uuid.uuid4().hex[:8]
    people: dict[str, str] = {}
    ids: dict[str, str] = {}
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        course = admin.post("/api/v1/courses/", json={"title": "History", "description": "d"})
        assert course.status_code in (200, 201), course.text
        for kind in ("student", "outsider"):
            username = f"{kind[:3]}{suffix}"
            created = admin.post(
                "/api/v1/users/",
                json={
                    "email": f"{username}@example.org",
                    "username": username,
                    "password": PASSWORD,
                    "full_name": kind.title(),
                    "role": "student",
                },
            )
            assert created.status_code in (200, 201), created.text
            people[kind] = username
            ids[kind] = created.json()["id"]
        enrolled = admin.post(
            f"/api/v1/courses/{course.json()['id']}/enroll",
            json={"user_email": None, "user_id": ids["student"], "role": "student"},
        )
        assert enrolled.status_code < 300, enrolled.text
    return {"course_id": course.json()["id"], **people}


@pytest.fixture
def room_id(fleet: Fleet, school: dict[str, str]) -> str:
    """A fresh room of the course."""
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        room = admin.post("/api/v1/rooms/", json={"name": "Room", "course_id": school["course_id"]})
        assert room.status_code in (200, 201), room.text
        return str(room.json()["id"])


@pytest.fixture
def student(fleet: Fleet, school: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as client:
        login(client, school["student"], PASSWORD)
        yield client


@pytest.fixture
def admin(fleet: Fleet) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as client:
        login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        yield client


def test_a_post_retried_with_the_same_idempotency_key_is_stored_once(
    student: httpx.Client, room_id: str
) -> None:
    path = f"/api/v1/chat/messages/{room_id}"
    headers = {"Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
    first = student.post(path, json={"content": "only once"}, headers=headers)
    assert first.status_code == 201, first.text
    again = student.post(path, json={"content": "only once"}, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["seq"] == first.json()["seq"]

    body = {"content": "keyed in the body", "client_msg_id": f"c-{uuid.uuid4().hex}"}
    assert student.post(path, json=body).status_code == 201
    assert student.post(path, json=body).status_code == 200

    history = student.get(path).json()
    assert [m["content"] for m in history] == ["only once", "keyed in the body"]
    assert history[0]["sender"] == "Student"
    assert history[0]["metadata"]["is_ai"] is False
    assert history[1]["metadata"]["client_msg_id"] == body["client_msg_id"]


def test_history_pages_by_seq(student: httpx.Client, room_id: str) -> None:
    path = f"/api/v1/chat/messages/{room_id}"
    for n in range(7):
        assert student.post(path, json={"content": f"m{n}"}).status_code == 201
    everything = student.get(path).json()
    seqs = [m["seq"] for m in everything]
    assert [m["content"] for m in everything] == [f"m{n}" for n in range(7)]
    assert seqs == sorted(seqs)

    latest = student.get(path, params={"limit": 3}).json()
    assert [m["content"] for m in latest] == ["m4", "m5", "m6"]  # the newest, oldest first
    older = student.get(path, params={"before": latest[0]["seq"], "limit": 3}).json()
    assert [m["content"] for m in older] == ["m1", "m2", "m3"]
    after = student.get(path, params={"after": seqs[1], "limit": 2}).json()
    assert [m["content"] for m in after] == ["m2", "m3"]
    assert student.get(path, params={"since": seqs[1], "limit": 2}).json() == after
    window = student.get(path, params={"after": seqs[1], "before": seqs[4]}).json()
    assert [m["content"] for m in window] == ["m2", "m3"]
    assert student.get(path, params={"limit": 1001}).status_code == 422


def test_artifacts_by_id(
    fleet: Fleet, school: dict[str, str], student: httpx.Client, admin: httpx.Client, room_id: str
) -> None:
    created = student.post(
        f"/api/v1/workspaces/{room_id}/artifacts",
        json={
            "type": "task",
            "title": "Write the report",
            "content": {"status": "todo", "priority": "high", "order": 2},
        },
    )
    assert created.status_code == 201, created.text
    artifact = created.json()
    by_id = f"/api/v1/workspaces/artifacts/{artifact['id']}"
    assert student.get(by_id).json()["title"] == "Write the report"

    moved = student.put(by_id, json={"content": {"status": "done"}})
    assert moved.status_code == 200, moved.text
    assert moved.json()["content"] == {"status": "done", "priority": "high", "order": 2}
    assert moved.json()["version"] == artifact["version"] + 1

    stale = student.put(by_id, json={"title": "Late edit", "expected_version": artifact["version"]})
    assert stale.status_code == 409, stale.text
    assert stale.json()["code"] == "version_conflict"

    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as outsider:
        login(outsider, school["outsider"], PASSWORD)
        hidden = outsider.get(by_id)
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "artifact_not_found"
        assert outsider.delete(by_id).status_code == 404

    refused = student.delete(by_id, params={"hard_delete": "true"})
    assert refused.status_code == 403, refused.text
    assert student.get(by_id).status_code == 200  # untouched

    assert student.delete(by_id, params={"hard_delete": "false"}).status_code == 204
    listing = student.get(f"/api/v1/workspaces/{room_id}/artifacts").json()
    assert artifact["id"] not in [a["id"] for a in listing]
    assert student.delete(by_id, params={"hard_delete": "true"}).status_code == 403

    assert admin.delete(by_id, params={"hard_delete": "true"}).status_code == 204
    gone = admin.get(by_id)
    assert gone.status_code == 404
    assert admin.get(f"/api/v1/workspaces/artifacts/{uuid.uuid4()}").status_code == 404


def test_a_forgotten_message_leaves_history_and_the_room_is_told(
    fleet: Fleet, student: httpx.Client, room_id: str
) -> None:
    path = f"/api/v1/chat/messages/{room_id}"
    cookie = f"access_token={student.cookies.get('access_token', path='/')}"

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        url = _ws_url(fleet, f"/api/v1/chat/ws/{room_id}")
        async with connect(url, additional_headers={"Cookie": cookie}) as ws:
            await asyncio.sleep(0.3)  # the live subscriptions are in place
            posted = await asyncio.to_thread(student.post, path, json={"content": "oops"})
            assert posted.status_code == 201, posted.text
            message = posted.json()
            forgotten = await asyncio.to_thread(student.delete, f"{path}/{message['id']}")
            assert forgotten.status_code == 204, forgotten.text
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame.get("type") == "message_deleted":
                    return message, frame

    message, frame = asyncio.run(run())
    assert frame["room_id"] == room_id
    assert message["id"] in frame["message_ids"]
    assert message["seq"] in frame["seqs"]
    assert frame["reason"] == "forgotten"
    assert "sender" not in frame
    assert "content" not in frame
    assert message["id"] not in [m["id"] for m in student.get(path).json()]
    again = student.delete(f"{path}/{message['id']}")
    assert again.status_code == 404
