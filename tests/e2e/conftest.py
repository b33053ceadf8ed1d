"""The whole fleet, started once for the e2e tier with the same code as ``coagent up``."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from coagent_cli.fleet import Fleet
from coagent_cli.testing import running_fleet
from coagent_cli.testing_traces import OtlpReceiver, exporting_to

ADMIN_EMAIL = "ada@example.org"
ADMIN_PASSWORD = "correct-horse-battery"
LOCAL_TEST_NETWORK = "127.0.0.1/32"


@pytest.fixture(scope="session")
def trace_receiver() -> Iterator[OtlpReceiver]:
    """The OTLP/HTTP endpoint the session's fleet exports its spans to."""
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def fleet(trace_receiver: OtlpReceiver) -> Iterator[Fleet]:
    """Embedded stack + migrations + super admin + six services, all ready, exporting spans."""
    # Workflow http nodes may call servers the tests start on loopback (dev/test only).
    os.environ.setdefault("WORKFLOW_ENGINE_HTTP_ALLOW_NETWORKS", LOCAL_TEST_NETWORK)
    with exporting_to(trace_receiver), running_fleet(ADMIN_EMAIL, ADMIN_PASSWORD) as running:
        yield running


def login(client: httpx.Client, username: str, password: str) -> None:
    """Sign ``client`` in the way the web client does (multipart form); its cookies follow."""
    response = client.post(
        "/api/v1/login/access-token",
        files={"username": (None, username), "password": (None, password)},
    )
    assert response.status_code == 200, response.text


def one_agent_graph(agent_id: str) -> dict[str, Any]:
    """The smallest runnable workflow: start → the agent → end."""
    return {
        "schema_version": 1,
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "tutor", "type": "agent", "config": {"agent_id": agent_id}},
            {"id": "end", "type": "end"},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "tutor"},
            {"id": "e2", "source": "tutor", "target": "end"},
        ],
    }


def agent_room(admin: httpx.Client, keyword: str) -> dict[str, str]:
    """A room, an offline agent, a workflow and a policy firing it on ``keyword`` in the room."""
    course = admin.post("/api/v1/courses/", json={"title": "Loop", "description": "d"})
    assert course.status_code in (200, 201), course.text
    room = admin.post("/api/v1/rooms/", json={"name": "Loop", "course_id": course.json()["id"]})
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
        json={"name": f"loop-{keyword}", "graph_data": one_agent_graph(agent.json()["id"])},
    )
    assert workflow.status_code == 201, workflow.text
    policy = admin.post(
        "/api/v1/triggers",
        json={
            "name": "Answer questions",
            "event_type": "user_message",
            "conditions": {"keyword": keyword},
            "target_workflow_id": workflow.json()["id"],
            "scope_session_id": room.json()["id"],
            "is_active": True,
        },
    )
    assert policy.status_code in (200, 201), policy.text
    return {"room_id": room.json()["id"], "workflow_id": workflow.json()["id"]}


async def frames_until_reply(ws: ClientConnection, mine: str) -> list[dict[str, Any]]:
    """Frames from the room socket until the agent's stored reply arrives."""
    deadline = time.monotonic() + 45
    frames: list[dict[str, Any]] = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        frames.append(frame)
        if frame.get("type") == "message" and frame.get("metadata", {}).get("is_ai"):
            return frames
        assert time.monotonic() < deadline, f"no agent reply to {mine!r}"
