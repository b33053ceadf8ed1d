"""``run:<id>`` topics on the real fleet: a run's frames in order, then resumed from a ``seq``."""

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

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login, one_agent_graph

pytestmark = pytest.mark.e2e
PASSWORD = "outsider-pass-1"


def _cookie(client: httpx.Client) -> str:
    return f"access_token={client.cookies.get('access_token', path='/')}"


def _ws_url(fleet: Fleet) -> str:
    return fleet.gateway_url.replace("http://", "ws://") + "/api/v1/ws"


@pytest.fixture(scope="module")
def run(fleet: Fleet) -> dict[str, str]:
    """A finished-or-finishing run of start → agent (offline model) → end, in a room."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        course = admin.post("/api/v1/courses/", json={"title": "Runs", "description": "d"})
        assert course.status_code in (200, 201), course.text
        room = admin.post("/api/v1/rooms/", json={"name": "Runs", "course_id": course.json()["id"]})
        assert room.status_code in (200, 201), room.text
        agent = admin.post(
            "/api/v1/agents/global",
            json={
                "name": "Tutor",
                "type": "teacher",
                "system_prompt": "Answer briefly.",
                "model_provider": "offline",
            },
        )
        assert agent.status_code == 201, agent.text
        workflow = admin.post(
            "/api/v1/workflows",
            json={
                "name": f"run-topics-{suffix}",
                "graph_data": one_agent_graph(agent.json()["id"]),
            },
        )
        assert workflow.status_code == 201, workflow.text
        executed = admin.post(
            f"/api/v1/workflows/{workflow.json()['id']}/execute",
            json={"room_id": room.json()["id"], "input": {"question": "What is a graph?"}},
        )
        assert executed.status_code == 202, executed.text
        outsider = admin.post(
            "/api/v1/users/",
            json={
                "email": f"out-{suffix}@example.org",
                "username": f"out{suffix}",
                "password": PASSWORD,
                "full_name": "Out Sider",
                "role": "student",
            },
        )
        assert outsider.status_code in (200, 201), outsider.text
        admin_cookie = _cookie(admin)
    with httpx.Client(base_url=fleet.gateway_url, timeout=10) as stranger:
        login(stranger, f"out{suffix}", PASSWORD)
        outsider_cookie = _cookie(stranger)
    return {
        "run_id": executed.json()["run_id"],
        "admin": admin_cookie,
        "outsider": outsider_cookie,
    }


async def _next(ws: ClientConnection, deadline: float) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(
        await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
    )
    return message


async def _follow(fleet: Fleet, cookie: str, run_id: str, since: int) -> list[dict[str, Any]]:
    """The run's frames after ``since``, up to and including ``run_finished``."""
    deadline = time.monotonic() + 30
    topic = f"run:{run_id}"
    async with connect(_ws_url(fleet), additional_headers={"Cookie": cookie}) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topic": topic, "since": since, "id": 1}))
        answer = await _next(ws, deadline)
        assert answer["op"] == "subscribed", answer
        assert answer["topic"] == topic
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1].get("event_type") != "run_finished":
            message = await _next(ws, deadline)
            if message["op"] == "event" and message["topic"] == topic:
                frames.append(message["data"])
        # Nothing follows the end (no duplicate of anything already sent).
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)
        return frames


def test_a_run_is_followed_in_order_then_resumed_from_a_seq(
    fleet: Fleet, run: dict[str, str]
) -> None:
    frames = asyncio.run(_follow(fleet, run["admin"], run["run_id"], since=0))

    kinds = [(f["type"], f.get("event_type"), f.get("status")) for f in frames]
    assert kinds[0] == ("run_status", None, "queued")
    assert ("workflow_trace", "run_started", None) in kinds
    assert kinds[-2:] == [
        ("run_status", None, "succeeded"),
        ("workflow_trace", "run_finished", None),
    ]
    assert frames[-1]["sub_status"] == "succeeded"
    assert all(f["run_id"] == run["run_id"] for f in frames)
    tutor = [f for f in frames if f.get("node_id") == "tutor"]
    assert [(f["event_type"], f["sub_status"]) for f in tutor] == [("node_finished", "succeeded")]
    replies = [f for f in frames if f["type"] == "agent_message"]
    assert len(replies) == 1
    assert replies[0]["agent_name"] == "Tutor"
    assert replies[0]["content"]
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs)
    assert len({(f["seq"], f["type"]) for f in frames}) == len(frames)  # each frame once

    event_seqs = sorted(set(seqs))
    middle = event_seqs[len(event_seqs) // 2]
    resumed = asyncio.run(_follow(fleet, run["admin"], run["run_id"], since=middle))
    assert resumed == [f for f in frames if f["seq"] > middle]


def test_outsiders_cannot_follow_the_run(fleet: Fleet, run: dict[str, str]) -> None:
    async def attempt() -> dict[str, Any]:
        headers = {"Cookie": run["outsider"]}
        async with connect(_ws_url(fleet), additional_headers=headers) as ws:
            topic = f"run:{run['run_id']}"
            await ws.send(json.dumps({"op": "subscribe", "topic": topic, "since": 0, "id": 9}))
            return await _next(ws, time.monotonic() + 10)

    assert asyncio.run(attempt()) == {
        "op": "error",
        "code": "run_not_found",
        "detail": "Run not found",
        "id": 9,
    }
