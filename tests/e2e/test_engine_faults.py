"""The workflow engine survives a kill -9 mid-run: the run completes once, each reply posted once.

A three-agent chain (first → second → third, offline agents streaming at a set pace) runs in a
room. While the second agent streams, the engine is killed with SIGKILL and restarted. The run's
lease expires, the restarted engine claims it and continues from the last checkpoint (the first
agent is not asked again), the run succeeds within 30 s of the restarted engine being ready, and
the room holds exactly one reply per agent, in order (a re-run node announces the same stream id,
which chat stores once).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from coagent_cli.fleet import Fleet
from coagent_cli.testing import eventually, running_fleet

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

AGENTS = ("first", "second", "third")
PACE_S = 0.3  # per streamed chunk: each agent streams for a few seconds
LEASE_S = 3.0  # how long a dead engine keeps its runs
RESUME_BOUND_S = 30.0  # restart → succeeded
ENGINE_ENV = {"WORKFLOW_ENGINE_LEASE_S": str(LEASE_S), "WORKFLOW_ENGINE_POLL_S": "0.2"}


@pytest.fixture(scope="module")
def engine_fleet() -> Iterator[Fleet]:
    """A fleet of its own (the engine gets killed) whose engine gives up dead leases quickly."""
    saved = {k: os.environ.get(k) for k in ENGINE_ENV}
    os.environ.update(ENGINE_ENV)
    try:
        with running_fleet(ADMIN_EMAIL, ADMIN_PASSWORD) as running:
            yield running
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def chain_graph(agent_ids: list[str]) -> dict[str, Any]:
    """start → each agent in turn → end."""
    names = ["start", *AGENTS, "end"]
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start"}]
    nodes += [
        {"id": name, "type": "agent", "config": {"agent_id": agent_id}}
        for name, agent_id in zip(AGENTS, agent_ids, strict=True)
    ]
    nodes.append({"id": "end", "type": "end"})
    edges = [
        {"id": f"e{i}", "source": a, "target": b}
        for i, (a, b) in enumerate(zip(names, names[1:], strict=False))
    ]
    return {"schema_version": 1, "nodes": nodes, "edges": edges}


def _setup(admin: httpx.Client) -> dict[str, str]:
    """A room and a workflow of three paced offline agents."""
    course = admin.post("/api/v1/courses/", json={"title": "Engine faults", "description": "d"})
    assert course.status_code in (200, 201), course.text
    room = admin.post("/api/v1/rooms/", json={"name": "Crash", "course_id": course.json()["id"]})
    assert room.status_code in (200, 201), room.text
    agent_ids = []
    for name in AGENTS:
        agent = admin.post(
            "/api/v1/agents/global",
            json={
                "name": name.title(),
                "type": "teacher",
                "system_prompt": f"You speak {name}.",
                "model_provider": "offline",
                "settings": {"offline_pace_s": PACE_S},
            },
        )
        assert agent.status_code == 201, agent.text
        agent_ids.append(agent.json()["id"])
    workflow = admin.post(
        "/api/v1/workflows", json={"name": "chain", "graph_data": chain_graph(agent_ids)}
    )
    assert workflow.status_code == 201, workflow.text
    return {"room_id": room.json()["id"], "workflow_id": workflow.json()["id"]}


async def _ai_replies(api: httpx.AsyncClient, room_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/api/v1/chat/messages/{room_id}")
    assert response.status_code == 200, response.text
    return [m for m in response.json() if m["metadata"].get("is_ai")]


async def _run(api: httpx.AsyncClient, workflow_id: str, run_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/workflows/{workflow_id}/runs/{run_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _kill_mid_run(
    fleet: Fleet, api: httpx.AsyncClient, ids: dict[str, str]
) -> dict[str, float]:
    """Wait until the first reply is stored (the second agent streams now), then kill -9.

    Returns when the engine was started again and when it answered ready (monotonic).
    """

    async def first_reply() -> bool:
        return len(await _ai_replies(api, ids["room_id"])) >= 1

    await eventually(first_reply, "the first agent's reply", timeout_s=60)
    await asyncio.sleep(PACE_S * 3)  # a few chunks into the second agent's stream
    await asyncio.to_thread(fleet.kill, "workflow-engine")
    restarted = time.monotonic()
    await asyncio.to_thread(fleet.restart, "workflow-engine")
    await asyncio.to_thread(fleet.wait_ready, 60.0)
    return {"restarted": restarted, "ready": time.monotonic()}


@pytest.mark.timeout(300)
async def test_a_run_killed_mid_way_completes_once_after_a_restart(engine_fleet: Fleet) -> None:
    with httpx.Client(base_url=engine_fleet.gateway_url, timeout=15) as setup:
        login(setup, ADMIN_EMAIL, ADMIN_PASSWORD)
        ids = _setup(setup)
        cookie = f"access_token={setup.cookies.get('access_token', path='/')}"
    headers = {"Cookie": cookie}
    async with httpx.AsyncClient(
        base_url=engine_fleet.gateway_url, headers=headers, timeout=15
    ) as api:
        started = await api.post(
            f"/api/v1/workflows/{ids['workflow_id']}/execute", json={"room_id": ids["room_id"]}
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        moments = await _kill_mid_run(engine_fleet, api, ids)
        at_kill = await _run(api, ids["workflow_id"], run_id)
        assert at_kill["status"] == "running", at_kill  # the kill really interrupted the run

        async def finished() -> dict[str, Any] | None:
            run = await _run(api, ids["workflow_id"], run_id)
            return run if run["status"] not in ("queued", "running") else None

        run = await eventually(finished, "the resumed run to end", timeout_s=RESUME_BOUND_S + 30)
        resumed_in = time.monotonic() - moments["ready"]
        start_s = moments["ready"] - moments["restarted"]
        replies = await _ai_replies(api, ids["room_id"])
        runs = (await api.get(f"/api/v1/workflows/{ids['workflow_id']}/runs")).json()

    assert run["status"] == "succeeded", run
    timeline = [
        (s["node_id"], s["status"], s["started_at"], s["finished_at"]) for s in run["steps"]
    ]
    assert resumed_in <= RESUME_BOUND_S, (
        f"succeeded {resumed_in:.1f}s after the restarted engine was ready "
        f"(it took {start_s:.1f}s to start): {timeline}"
    )
    assert run["attempt"] == 2, run  # claimed once before the kill, once after: no third claim
    assert [r["id"] for r in runs] == [run_id]
    # Each agent answered exactly once, in order: the first was not asked again on resume, and
    # the second (interrupted mid-stream) was stored once.
    assert [m["sender"] for m in replies] == [a.title() for a in AGENTS], replies
    assert len({m["content"] for m in replies}) == len(AGENTS)
    finished_nodes = [s["node_id"] for s in run["steps"] if s["status"] == "succeeded"]
    for name in AGENTS:
        assert finished_nodes.count(name) == 1, run["steps"]
