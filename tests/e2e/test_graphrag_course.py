"""Course-wide GraphRAG on the running fleet: a course question reads the partitions of its own
rooms only, and a room deleted at the gateway is forgotten by the graph."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from coagent_cli.fleet import SERVICES, Fleet
from coagent_cli.testing import eventually
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

from .test_graphrag import GRAPH_TIMEOUT_S, _login, _post, _room, _until_in_graph

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
ZEPHYR = "When is the Zephyr demo scheduled?"
QUASAR = "How much was the Quasar budget?"


async def _course(admin: httpx.AsyncClient, title: str) -> str:
    made = await admin.post("/api/v1/courses/", json={"title": title, "description": "d"})
    assert made.status_code in (200, 201), made.text
    return str(made.json()["id"])


async def _ask_course(admin: httpx.AsyncClient, course_id: str, question: str) -> dict[str, Any]:
    asked = await admin.post(
        f"/api/v1/courses/{course_id}/graph/query", json={"question": question, "mode": "basic"}
    )
    assert asked.status_code == 200, asked.text
    answer: dict[str, Any] = asked.json()
    return answer


def _cited(answer: dict[str, Any]) -> dict[str, str]:
    """Cited message id -> the room its citation names."""
    return {m: c["room_id"] for c in answer["citations"] for m in c["message_ids"]}


async def _graph_nodes_in_query_service(fleet: Fleet, room_id: str) -> int:
    """The room's graph as graphrag-query serves it (the gateway no longer knows the room)."""
    spec = next(s for s in SERVICES if s.name == "graphrag-query")
    identity = InternalIdentity(user_id=str(uuid.uuid4()), platform_role="admin")
    token = sign_identity(fleet.internal_token_secret, identity, audience="graphrag-query")
    async with httpx.AsyncClient(base_url=fleet.config.url(spec), timeout=30) as query:
        graph = await query.get(f"/api/v1/graph/{room_id}", headers={HEADER: token})
    assert graph.status_code == 200, graph.text
    return int(graph.json()["total_nodes"])


async def test_a_course_question_reads_its_rooms_only_and_deleted_rooms_are_forgotten(
    fleet: Fleet,
) -> None:
    async with httpx.AsyncClient(base_url=fleet.gateway_url, timeout=30) as admin:
        await _login(admin)
        tag = uuid.uuid4().hex[:6]
        course_x, course_y = await _course(admin, f"X {tag}"), await _course(admin, f"Y {tag}")
        lab = await _room(admin, course_x, f"Lab {tag}")
        office = await _room(admin, course_x, f"Office {tag}")
        other = await _room(admin, course_y, f"Other {tag}")

        [zephyr] = await _post(admin, lab, ["The Zephyr demo is scheduled for Friday in Lab 204."])
        [quasar] = await _post(
            admin, office, ["The Quasar budget was approved at twenty thousand euros."]
        )
        [elsewhere] = await _post(
            admin, other, ["The Zephyr demo is scheduled for Monday in Hall 9."]
        )
        await _until_in_graph(admin, lab, "Zephyr")
        await _until_in_graph(admin, office, "Quasar")
        await _until_in_graph(admin, other, "Zephyr")

        demo = await _ask_course(admin, course_x, ZEPHYR)
        budget = await _ask_course(admin, course_x, QUASAR)
        assert sorted(demo["rooms"]) == sorted([lab, office])
        assert _cited(demo).get(zephyr) == lab, demo
        assert _cited(budget).get(quasar) == office, budget
        assert "Friday" in demo["answer"]
        assert elsewhere not in _cited(demo), demo
        assert "Monday" not in demo["answer"]

        other_course = await _ask_course(admin, course_y, ZEPHYR)
        assert set(_cited(other_course).values()) <= {other}, other_course
        assert not {zephyr, quasar} & set(_cited(other_course)), other_course

        deleted = await admin.delete(f"/api/v1/rooms/{lab}")
        assert deleted.status_code == 204, deleted.text
        assert (await admin.get(f"/api/v1/graph/{lab}")).status_code == 404

        async def forgotten() -> bool | None:
            return True if await _graph_nodes_in_query_service(fleet, lab) == 0 else None

        await eventually(forgotten, f"the graph of deleted room {lab} emptied", GRAPH_TIMEOUT_S)
        after = await _ask_course(admin, course_x, ZEPHYR)
        assert after["rooms"] == [office]
        assert zephyr not in _cited(after)
        # The course's other room, and the other course, keep their graphs.
        assert await _graph_nodes_in_query_service(fleet, office) > 0
        assert await _graph_nodes_in_query_service(fleet, other) > 0
