"""A question asked over the multiplexed socket is answered as it is written: grounded claims
arrive as ``answer_delta`` frames, then the whole answer, citing the message that states it
(and the same NDJSON stream is served over HTTP through the gateway)."""

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

from .test_graphrag import QUESTION, _login, _post, _room, _until_in_graph

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
ANSWER_TIMEOUT_S = 30.0


async def _frames_until_answer(ws: ClientConnection, rid: str) -> list[dict[str, Any]]:
    """The frames of ask ``rid`` up to its ``answer`` (or ``error``)."""
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["op"] not in ("answer", "error"):
        frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if frame.get("id") == rid:
            frames.append(frame)
    return frames


async def test_a_question_asked_on_the_socket_streams_claims_then_the_cited_answer(
    fleet: Fleet,
) -> None:
    async with httpx.AsyncClient(base_url=fleet.gateway_url, timeout=30) as admin:
        await _login(admin)
        course = await admin.post("/api/v1/courses/", json={"title": "Asks", "description": "d"})
        assert course.status_code in (200, 201), course.text
        room = await _room(admin, course.json()["id"], f"Ask {uuid.uuid4().hex[:6]}")
        ids = await _post(admin, room, [
            "Good morning everyone, let's plan the week.",
            "The Zephyr demo is scheduled for Friday in Lab 204.",
        ])  # fmt: skip
        await _until_in_graph(admin, room, "Zephyr")
        cookie = f"access_token={admin.cookies.get('access_token', path='/')}"
        # The same stream over HTTP, through the gateway's forwarding.
        streamed = await admin.post(
            f"/api/v1/graph/{room}/query",
            json={"question": QUESTION},
            headers={"Accept": "application/x-ndjson"},
        )
        assert streamed.status_code == 200, streamed.text
        lines = [json.loads(line) for line in streamed.text.splitlines()]
        assert [line["type"] for line in lines][-1] == "answer", lines
        assert ids[1] in lines[-1]["sources"], lines

    url = fleet.gateway_url.replace("http://", "ws://") + "/api/v1/ws"
    async with connect(url, additional_headers={"Cookie": cookie}) as ws:
        await ws.send(
            json.dumps({"op": "ask", "topic": f"room:{room}", "question": QUESTION, "id": "q1"})
        )
        frames = await _frames_until_answer(ws, "q1")

    *deltas, answer = frames
    assert answer["op"] == "answer", frames
    assert deltas, frames
    assert {d["op"] for d in deltas} == {"answer_delta"}
    assert all(d["topic"] == f"room:{room}" for d in frames)
    assert "".join(d["text"] for d in deltas) == answer["answer"]
    assert "Friday" in answer["answer"]
    assert ids[1] in answer["sources"], answer
    assert any(ids[1] in c["message_ids"] for d in deltas for c in d["citations"]), deltas
