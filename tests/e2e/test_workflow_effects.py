"""A workflow with http → update_artifact → subworkflow(agent), end to end on the fleet.

The http node calls a server this test runs on loopback (allowed by the fleet's dev
allow-list); the artifact is written by chat and reaches the room socket as ``artifact_update``
and the artifact API; the child run's agent reply is posted in the room.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from coagent_cli.fleet import Fleet
from coagent_cli.testing import eventually

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login, one_agent_graph

pytestmark = pytest.mark.e2e


class _Facts(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        body = json.dumps({"fact": "2 is the only even prime"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def facts_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Facts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _parent_graph(facts_url: str, child_workflow: str) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "start"},
        {"id": "fetch", "type": "http", "config": {"url": facts_url, "output_key": "facts"}},
        {
            "id": "note",
            "type": "tool",
            "config": {
                "tool_name": "template",
                "arguments": {"template": "Fact found: {{facts}}"},
                "output_key": "notes",
            },
        },
        {
            "id": "save",
            "type": "action",
            "config": {
                "action_type": "update_artifact",
                "title": "Prime facts",
                "from_key": "notes",
            },
        },
        {
            "id": "ask",
            "type": "subworkflow",
            "config": {"workflow_id": child_workflow, "inputs": {"notes": "notes"}},
        },
        {"id": "end", "type": "end"},
    ]
    ids = [n["id"] for n in nodes]
    edges = [
        {"id": f"e{i}", "source": s, "target": t}
        for i, (s, t) in enumerate(zip(ids, ids[1:], strict=False))
    ]
    return {"schema_version": 1, "nodes": nodes, "edges": edges}


def _setup(admin: httpx.Client, facts_url: str) -> dict[str, str]:
    course = admin.post("/api/v1/courses/", json={"title": "Effects", "description": "d"})
    assert course.status_code in (200, 201), course.text
    room = admin.post("/api/v1/rooms/", json={"name": "Effects", "course_id": course.json()["id"]})
    assert room.status_code in (200, 201), room.text
    agent = admin.post(
        "/api/v1/agents/global",
        json={
            "name": "Explainer",
            "type": "teacher",
            "system_prompt": "Explain.",
            "model_provider": "offline",
        },
    )
    assert agent.status_code == 201, agent.text
    child = admin.post(
        "/api/v1/workflows",
        json={"name": "explain", "graph_data": one_agent_graph(agent.json()["id"])},
    )
    assert child.status_code == 201, child.text
    parent = admin.post(
        "/api/v1/workflows",
        json={"name": "research", "graph_data": _parent_graph(facts_url, child.json()["id"])},
    )
    assert parent.status_code == 201, parent.text
    return {
        "room_id": room.json()["id"],
        "child_id": child.json()["id"],
        "parent_id": parent.json()["id"],
    }


async def _frames_until(
    ws: ClientConnection, done: Any, timeout_s: float = 60
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    frames: list[dict[str, Any]] = []
    while not done(frames):
        assert time.monotonic() < deadline, f"frames so far: {[f.get('type') for f in frames]}"
        frames.append(json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic())))
    return frames


def _artifact_and_reply(frames: list[dict[str, Any]]) -> bool:
    kinds = {f.get("type") for f in frames}
    replied = any(f.get("type") == "message" and f.get("metadata", {}).get("is_ai") for f in frames)
    return "artifact_update" in kinds and replied


async def test_http_artifact_and_subworkflow_reach_the_room(fleet: Fleet, facts_url: str) -> None:
    with httpx.Client(base_url=fleet.gateway_url, timeout=15) as setup:
        login(setup, ADMIN_EMAIL, ADMIN_PASSWORD)
        ids = _setup(setup, facts_url)
        cookie = f"access_token={setup.cookies.get('access_token', path='/')}"
    headers = {"Cookie": cookie}
    url = fleet.gateway_url.replace("http://", "ws://") + f"/api/v1/chat/ws/{ids['room_id']}"
    async with (
        connect(url, additional_headers=headers) as ws,
        httpx.AsyncClient(base_url=fleet.gateway_url, timeout=15, headers=headers) as api,
    ):
        started = await api.post(
            f"/api/v1/workflows/{ids['parent_id']}/execute",
            json={"room_id": ids["room_id"], "input": {}},
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        frames = await _frames_until(ws, _artifact_and_reply)

        [update] = [f for f in frames if f.get("type") == "artifact_update"]
        assert update["artifact"]["title"] == "Prime facts"
        assert "2 is the only even prime" in json.dumps(update["artifact"]["content"])
        reply = next(f for f in frames if f.get("type") == "message")
        assert reply["sender"] == "Explainer"

        async def finished() -> dict[str, Any] | None:
            path = f"/api/v1/workflows/{ids['parent_id']}/runs/{run_id}"
            body: dict[str, Any] = (await api.get(path)).json()
            return body if body["status"] not in ("queued", "running") else None

        run = await eventually(finished, "the parent run to end", timeout_s=30)
        assert run["status"] == "succeeded", run
        steps = {s["node_id"]: s for s in run["steps"]}
        child_id = steps["ask"]["input"]["child_run_id"]
        child = (await api.get(f"/api/v1/workflows/{ids['child_id']}/runs/{child_id}")).json()
        assert (child["status"], child["parent_run_id"]) == ("succeeded", run_id)

        listed = (await api.get(f"/api/v1/workspaces/{ids['room_id']}/artifacts")).json()
        assert [a["title"] for a in listed] == ["Prime facts"]
        assert listed[0]["created_by"] == f"workflow:{ids['parent_id']}"
