"""A room's attached workflow is its fallback, for that room only, through the whole fleet.

Room A has a workflow attached with ``PUT /rooms/{id}``; room B has an attached workflow too but
also a ``user_message`` policy; room C gets its workflow from the engine's
``PUT /rooms/{id}/workflow`` upsert (the gateway learns it from the engine's event). A human
message starts exactly one run of the attached workflow in A and in C; in B the policy applies,
so the fallback never runs there and the policy fires only on its keyword. Room D, of a second
course, has an attached workflow and a policy scoped to its course: the policy fires in D on its
keyword and keeps D's fallback from running, while rooms of the first course keep theirs.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from coagent_cli.fleet import Fleet
from coagent_cli.testing import eventually

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, one_agent_graph

pytestmark = pytest.mark.e2e


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def _say(fleet: Fleet, room_id: str, cookie: str, text: str) -> None:
    url = fleet.gateway_url.replace("http://", "ws://") + f"/api/v1/chat/ws/{room_id}"
    async with connect(url, additional_headers={"Cookie": cookie}) as ws:
        await ws.send(text)
        await asyncio.wait_for(ws.recv(), 10)  # our own echo: the message is stored


async def _runs(client: httpx.AsyncClient, workflow_id: str) -> list[dict[str, Any]]:
    listed = (await client.get(f"/api/v1/workflows/{workflow_id}/runs")).json()
    assert isinstance(listed, list), listed
    return listed


async def _pause_unscoped_message_policies(client: httpx.AsyncClient) -> None:
    """Earlier tests on this shared fleet (the API fuzz run) leave active unscoped
    ``user_message`` policies of the admin: they apply to every room, ours included, and would
    rightly keep the fallback from running. Pause them so the scenario sees only its own."""
    listed = (await client.get("/api/v1/triggers")).json()
    assert isinstance(listed, list), listed
    for found in listed:
        unscoped = found.get("scope_session_id") is None and found.get("scope_course_id") is None
        if found.get("event_type") == "user_message" and found.get("is_active") and unscoped:
            paused = await client.put(f"/api/v1/triggers/{found['id']}", json={"is_active": False})
            assert paused.status_code == 200, paused.text


async def _scenario(fleet: Fleet, client: httpx.AsyncClient, cookie: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    await _pause_unscoped_message_policies(client)
    course = _created(await client.post("/api/v1/courses/", json={"title": f"F-{suffix}"}))
    rooms = {
        name: _created(
            await client.post("/api/v1/rooms/", json={"name": name, "course_id": course["id"]})
        )["id"]
        for name in ("A", "B", "C")
    }
    agent = _created(
        await client.post(
            "/api/v1/agents/global",
            json={
                "name": "Helper",
                "type": "teacher",
                "system_prompt": "Hi.",
                "model_provider": "offline",
            },
        )
    )
    graph = one_agent_graph(agent["id"])

    async def workflow(name: str) -> str:
        body = {"name": f"{name}-{suffix}", "graph_data": graph}
        return str(_created(await client.post("/api/v1/workflows", json=body))["id"])

    names = ("a", "b", "d", "policy", "course")
    fallback_a, fallback_b, fallback_d, policy_wf, course_wf = [await workflow(n) for n in names]
    other = _created(await client.post("/api/v1/courses/", json={"title": f"G-{suffix}"}))
    rooms["D"] = _created(
        await client.post("/api/v1/rooms/", json={"name": "D", "course_id": other["id"]})
    )["id"]
    for room, wf in (("A", fallback_a), ("B", fallback_b), ("D", fallback_d)):
        put = await client.put(f"/api/v1/rooms/{rooms[room]}", json={"attached_workflow_id": wf})
        assert put.json()["attached_workflow_id"] == wf, put.text
    upserted = _created(
        await client.put(
            f"/api/v1/rooms/{rooms['C']}/workflow", json={"name": "C", "graph_data": graph}
        )
    )

    async def attached_to_c() -> bool:
        room = (await client.get(f"/api/v1/rooms/{rooms['C']}")).json()
        return bool(room["attached_workflow_id"] == upserted["id"])

    await eventually(attached_to_c, "the engine's attachment reaching the gateway", 30)
    policy = _created(
        await client.post(
            "/api/v1/triggers",
            json={
                "name": "deploys",
                "event_type": "user_message",
                "conditions": {"keyword": "deploy", "overlap": "allow"},
                "target_workflow_id": policy_wf,
                "scope_session_id": rooms["B"],
            },
        )
    )
    course_policy = _created(
        await client.post(
            "/api/v1/triggers",
            json={
                "name": "grading",
                "event_type": "user_message",
                "conditions": {"keyword": "grade", "overlap": "allow"},
                "target_workflow_id": course_wf,
                "scope_course_id": other["id"],
            },
        )
    )
    await asyncio.sleep(3)  # the room events reach the trigger's projection (sub-second)

    for room in ("A", "B", "C", "D"):
        await _say(fleet, rooms[room], cookie, f"hello {room}")
    await _say(fleet, rooms["B"], cookie, "please deploy")
    await _say(fleet, rooms["D"], cookie, "please grade")

    async def one_run(workflow_id: str) -> list[dict[str, Any]]:
        return await _runs(client, workflow_id)

    [run_a] = await eventually(lambda: one_run(fallback_a), "the fallback run in A", 30)
    [run_c] = await eventually(lambda: one_run(upserted["id"]), "the fallback run in C", 30)
    [run_policy] = await eventually(lambda: one_run(policy_wf), "the policy run in B", 30)
    [run_course] = await eventually(lambda: one_run(course_wf), "the course policy run in D", 30)
    await asyncio.sleep(2)  # a duplicate or a stray fallback, if any, would have appeared by now

    assert (run_a["room_id"], run_a["trigger"]["policy_id"]) == (
        rooms["A"],
        f"room-fallback-{rooms['A']}",
    )
    assert run_c["room_id"] == rooms["C"]
    assert (run_policy["room_id"], run_policy["trigger"]["policy_id"]) == (rooms["B"], policy["id"])
    assert len(await _runs(client, fallback_a)) == 1
    assert len(await _runs(client, upserted["id"])) == 1
    assert len(await _runs(client, policy_wf)) == 1
    assert await _runs(client, fallback_b) == []  # B has a policy: no fallback there
    assert (run_course["room_id"], run_course["trigger"]["policy_id"]) == (
        rooms["D"],
        course_policy["id"],
    )
    assert len(await _runs(client, course_wf)) == 1
    assert await _runs(client, fallback_d) == []  # D's course has a policy: no fallback there


def test_a_rooms_attached_workflow_runs_once_and_only_in_its_room(fleet: Fleet) -> None:
    async def main() -> None:
        async with httpx.AsyncClient(base_url=fleet.gateway_url, timeout=15) as client:
            form = {"username": (None, ADMIN_EMAIL), "password": (None, ADMIN_PASSWORD)}
            signed_in = await client.post("/api/v1/login/access-token", files=form)
            assert signed_in.status_code == 200, signed_in.text
            cookie = f"access_token={client.cookies.get('access_token', path='/')}"
            await _scenario(fleet, client, cookie)

    asyncio.run(main())
