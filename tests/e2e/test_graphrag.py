"""GraphRAG on the running fleet, through the gateway: chat messages become a room's knowledge
graph without any build request, and questions are answered from that room only, citing the
message that states the answer."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from coagent_cli.fleet import Fleet
from coagent_cli.testing import eventually

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD

# The first e2e test of a session also waits for the fleet to start, which on a busy machine
# takes most of the default two minutes.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
# Ingest waits for a room to be quiet (2 s by default) before a pass; this leaves ample room.
GRAPH_TIMEOUT_S = 60.0
QUESTION = "When is the Zephyr demo scheduled?"


async def _login(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/login/access-token",
        files={"username": (None, ADMIN_EMAIL), "password": (None, ADMIN_PASSWORD)},
    )
    assert response.status_code == 200, response.text


async def _room(admin: httpx.AsyncClient, course_id: str, name: str) -> str:
    room = await admin.post("/api/v1/rooms/", json={"name": name, "course_id": course_id})
    assert room.status_code in (200, 201), room.text
    return str(room.json()["id"])


async def _post(admin: httpx.AsyncClient, room_id: str, texts: list[str]) -> list[str]:
    ids = []
    for text in texts:
        posted = await admin.post(f"/api/v1/chat/messages/{room_id}", json={"content": text})
        assert posted.status_code == 201, posted.text
        ids.append(str(posted.json()["id"]))
    return ids


async def _graph_names(admin: httpx.AsyncClient, room_id: str) -> set[str]:
    response = await admin.get(f"/api/v1/graph/{room_id}")
    assert response.status_code == 200, response.text
    return {node["name"] for node in response.json()["nodes"]}


async def _until_in_graph(admin: httpx.AsyncClient, room_id: str, name: str) -> set[str]:
    async def probe() -> set[str] | None:
        names = await _graph_names(admin, room_id)
        return names if name in names else None

    return await eventually(probe, f"{name} in the graph of room {room_id}", GRAPH_TIMEOUT_S)


async def _ask(admin: httpx.AsyncClient, room_id: str) -> dict[str, Any]:
    response = await admin.post(f"/api/v1/graph/{room_id}/query", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_posted_messages_become_a_graph_that_answers_from_its_own_room(fleet: Fleet) -> None:
    async with httpx.AsyncClient(base_url=fleet.gateway_url, timeout=30) as admin:
        await _login(admin)
        course = await admin.post("/api/v1/courses/", json={"title": "Graphs", "description": "d"})
        assert course.status_code in (200, 201), course.text
        tag = uuid.uuid4().hex[:6]
        first = await _room(admin, course.json()["id"], f"Graph A {tag}")
        second = await _room(admin, course.json()["id"], f"Graph B {tag}")

        ids_a = await _post(admin, first, [
            "Good morning everyone, let's plan the week.",
            "The Zephyr demo is scheduled for Friday in Lab 204.",
            "For Borealis we settled on PostgreSQL as the database.",
        ])  # fmt: skip
        # The other room talks about the same project without the answer.
        ids_b = await _post(admin, second, [
            "Has anyone looked at the Zephyr demo yet?",
            "The Quasar budget was approved at twenty thousand euros.",
        ])  # fmt: skip

        names = await _until_in_graph(admin, first, "Zephyr")
        assert {"PostgreSQL", "Borealis"} <= names
        await _until_in_graph(admin, second, "Quasar")

        answer = await _ask(admin, first)
        assert answer["found"] is True, answer
        assert ids_a[1] in answer["sources"], answer
        assert "Friday" in answer["answer"]
        assert all(ids_a[1] in c["message_ids"] for c in answer["claims"]), answer

        elsewhere = await _ask(admin, second)
        cited = set(elsewhere["sources"]) | {
            m for c in elsewhere["citations"] for m in c["message_ids"]
        }
        assert not cited & set(ids_a), elsewhere
        assert cited <= set(ids_b), elsewhere
        assert "Friday" not in elsewhere["answer"]
