"""Forgetting a user on the running fleet: an admin forgets a student, and every copy of what the
student wrote goes — the room's history and the room's knowledge graph — while what others
wrote stays."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from coagent_cli.fleet import Fleet
from coagent_cli.testing import eventually

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD

# The first e2e test of a session also waits for the fleet to start.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
# Ingest waits for a quiet room (2 s by default) before a pass; this leaves ample room.
GRAPH_TIMEOUT_S = 60.0
PASSWORD = "forget-me-password"
QUESTION = "When is the Zephyr demo scheduled?"
STUDENT_FACTS = [
    "The Zephyr demo is scheduled for Friday in Lab 204.",
    "For Borealis we settled on PostgreSQL as the database.",
]
ADMIN_FACT = "The Quasar budget was approved at twenty thousand euros."


async def _login(client: httpx.AsyncClient, login: str, password: str) -> None:
    response = await client.post(
        "/api/v1/login/access-token",
        files={"username": (None, login), "password": (None, password)},
    )
    assert response.status_code == 200, response.text


async def _created(admin: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await admin.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()
    return data


async def _student_in_a_room(admin: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    tag = uuid.uuid4().hex[:8]
    course = await _created(admin, "/api/v1/courses/", {"title": f"Forget {tag}"})
    student = await _created(
        admin,
        "/api/v1/users/",
        {
            "email": f"bea-{tag}@example.org",
            "username": f"bea-{tag}",
            "password": PASSWORD,
            "full_name": "Bea Forgettable",
            "role": "student",
        },
    )
    enrol = {"user_id": student["id"], "role": "student"}
    await _created(admin, f"/api/v1/courses/{course['id']}/enroll", enrol)
    room = await _created(admin, "/api/v1/rooms/", {"name": f"R {tag}", "course_id": course["id"]})
    return student, str(room["id"])


async def _post(client: httpx.AsyncClient, room_id: str, text: str) -> str:
    posted = await client.post(f"/api/v1/chat/messages/{room_id}", json={"content": text})
    assert posted.status_code == 201, posted.text
    return str(posted.json()["id"])


async def _graph_names(admin: httpx.AsyncClient, room_id: str) -> set[str]:
    response = await admin.get(f"/api/v1/graph/{room_id}")
    assert response.status_code == 200, response.text
    return {node["name"] for node in response.json()["nodes"]}


async def _ask(admin: httpx.AsyncClient, room_id: str) -> dict[str, Any]:
    response = await admin.post(f"/api/v1/graph/{room_id}/query", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _cited(answer: dict[str, Any]) -> set[str]:
    return set(answer["sources"]) | {m for c in answer["citations"] for m in c["message_ids"]}


async def _graph_texts(admin: httpx.AsyncClient, room_id: str) -> tuple[set[str], str]:
    """Every source id the room's graph and reports cite, and all of their text."""
    graph = (await admin.get(f"/api/v1/graph/{room_id}")).json()
    reports = (await admin.get(f"/api/v1/graph/{room_id}/communities")).json()
    items = [*graph["nodes"], *graph["edges"], *reports]
    sources = {s for item in items for s in item["sources"]}
    texts = [
        str(item.get(key, ""))
        for item in items
        for key in ("name", "description", "evidence", "title", "summary", "key_findings")
    ]
    return sources, "\n".join(texts)


async def _reports_cite(admin: httpx.AsyncClient, room_id: str, ids: list[str]) -> bool:
    reports = (await admin.get(f"/api/v1/graph/{room_id}/communities")).json()
    return any(set(r["sources"]) & set(ids) for r in reports)


async def test_a_forgotten_student_leaves_no_message_and_no_fact(fleet: Fleet) -> None:
    async with (
        httpx.AsyncClient(base_url=fleet.gateway_url, timeout=30) as admin,
        httpx.AsyncClient(base_url=fleet.gateway_url, timeout=30) as bea,
    ):
        await _login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        student, room_id = await _student_in_a_room(admin)
        await _login(bea, student["email"], PASSWORD)
        bea_ids = [await _post(bea, room_id, text) for text in STUDENT_FACTS]
        admin_id = await _post(admin, room_id, ADMIN_FACT)

        async def all_facts() -> bool:
            return {"Zephyr", "Borealis", "Quasar"} <= await _graph_names(admin, room_id)

        await eventually(all_facts, "every fact in the graph", GRAPH_TIMEOUT_S)
        assert set(bea_ids) & _cited(await _ask(admin, room_id))
        build = await admin.post(f"/api/v1/graph/{room_id}/build")
        assert build.status_code == 202, build.text

        async def built() -> str | None:
            latest = (await admin.get(f"/api/v1/graph/{room_id}/status")).json()["graph_build"]
            ended = latest and latest["status"] in ("succeeded", "failed")
            return str(latest["status"]) if ended else None

        # Forget once the build has ended, so the erasure has finished reports to drop.
        assert await eventually(built, "the build's end", GRAPH_TIMEOUT_S) == "succeeded"
        assert await _reports_cite(admin, room_id, bea_ids)
        _, before = await _graph_texts(admin, room_id)
        assert "Bea Forgettable" in before  # the speaker of her turns is a person of the graph

        document = (await admin.get("/api/v1/openapi.json")).json()
        assert "post" in document["paths"]["/api/v1/users/{user_id}/forget"]
        forget = await admin.post(f"/api/v1/users/{student['id']}/forget")
        assert forget.status_code == 202, forget.text
        assert forget.json()["user_id"] == student["id"]
        assert (await bea.get("/api/v1/users/me")).status_code == 401

        async def history_is_theirs() -> list[Any] | None:
            history = (await admin.get(f"/api/v1/chat/messages/{room_id}")).json()
            return history if [m["id"] for m in history] == [admin_id] else None

        await eventually(history_is_theirs, "only the admin's message left", GRAPH_TIMEOUT_S)

        async def facts_gone() -> set[str] | None:
            names = await _graph_names(admin, room_id)
            return names if not names & {"Zephyr", "Borealis"} else None

        names = await eventually(
            facts_gone, "the student's facts out of the graph", GRAPH_TIMEOUT_S
        )
        assert "Quasar" in names
        answer = await _ask(admin, room_id)
        assert not _cited(answer) & set(bea_ids), answer
        assert "Friday" not in answer["answer"]
