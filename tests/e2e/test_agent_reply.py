"""The whole loop: a user message fires a policy, one run starts, and the agent answers the room.

trigger (user_message policy) → workflow-engine (run on the offline model) → chat (stored reply)
→ gateway (room socket). Checked on the reference room socket the web client uses.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from coagent_cli.fleet import Fleet
from coagent_cli.testing import eventually

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, agent_room, frames_until_reply, login

pytestmark = pytest.mark.e2e


async def _converse(fleet: Fleet, cookie: str, room_id: str, text: str) -> list[dict[str, Any]]:
    url = fleet.gateway_url.replace("http://", "ws://") + f"/api/v1/chat/ws/{room_id}"
    async with connect(url, additional_headers={"Cookie": cookie}) as ws:
        await ws.send(text)
        return await frames_until_reply(ws, text)


async def test_a_matching_message_gets_exactly_one_run_and_an_agent_reply(fleet: Fleet) -> None:
    keyword = f"kw{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=fleet.gateway_url, timeout=15) as setup:
        login(setup, ADMIN_EMAIL, ADMIN_PASSWORD)
        ids = agent_room(setup, keyword)
        cookie = f"access_token={setup.cookies.get('access_token', path='/')}"
    frames = await _converse(fleet, cookie, ids["room_id"], f"Can you {keyword} me?")

    reply = frames[-1]
    assert reply["sender"] == "Tutor"
    assert reply["metadata"]["offline"] is True
    assert reply["metadata"]["agent_type"] == "teacher"
    assert reply["content"].strip()
    traces = [f for f in frames if f.get("type") == "workflow_trace"]
    assert traces, frames
    assert traces[0]["event_type"] == "run_started"
    nodes = [f["node_id"] for f in traces if f["event_type"] == "node_finished"]
    order = ["start", "tutor", "end"]
    assert nodes == sorted(nodes, key=order.index), nodes  # node order, no repeats

    headers = {"Cookie": cookie}
    async with httpx.AsyncClient(base_url=fleet.gateway_url, timeout=15, headers=headers) as api:
        runs_path = f"/api/v1/workflows/{ids['workflow_id']}/runs"

        async def one_finished_run() -> list[dict[str, Any]] | None:
            runs: list[dict[str, Any]] = (await api.get(runs_path)).json()
            return runs if runs and runs[0]["status"] == "succeeded" else None

        runs = await eventually(one_finished_run, "the run to succeed", timeout_s=30)
        assert len(runs) == 1, runs  # one message, one firing, one run
        assert runs[0]["trigger"]["kind"] == "user_message"
        assert runs[0]["room_id"] == ids["room_id"]

        # The room holds the question and exactly one answer.
        history = (await api.get(f"/api/v1/chat/messages/{ids['room_id']}")).json()
        assert [m["metadata"]["is_ai"] for m in history] == [False, True]
