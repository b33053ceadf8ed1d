"""Every service's ``/metrics`` shows the fleet's own series after one conversation.

A message fires a policy, the engine runs the offline agent and chat stores the reply; while the
room socket is still open, the gateway, chat, trigger and workflow-engine are scraped the way
Prometheus does, and each must show what it just did.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from coagent_cli.fleet import SERVICES, Fleet
from coagent_cli.testing import eventually

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, agent_room, frames_until_reply, login

pytestmark = pytest.mark.e2e

Samples = list[tuple[str, dict[str, str], float]]


async def _scrape(fleet: Fleet, service: str) -> Samples:
    [spec] = [s for s in SERVICES if s.name == service]
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{fleet.config.url(spec)}/metrics")
    assert response.status_code == 200, response.text
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    """Sum of the samples of ``name`` whose labels include ``labels``; None if there are none."""
    found = [v for n, have, v in samples if n == name and labels.items() <= have.items()]
    return sum(found) if found else None


async def test_each_service_exports_what_a_conversation_did(fleet: Fleet) -> None:
    keyword = f"kw{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=fleet.gateway_url, timeout=15) as setup:
        login(setup, ADMIN_EMAIL, ADMIN_PASSWORD)
        ids = agent_room(setup, keyword)
        cookie = f"access_token={setup.cookies.get('access_token', path='/')}"
    url = fleet.gateway_url.replace("http://", "ws://") + f"/api/v1/chat/ws/{ids['room_id']}"
    async with connect(url, additional_headers={"Cookie": cookie}) as ws:
        await ws.send(f"Please {keyword} this")
        await frames_until_reply(ws, keyword)
        gateway = await _scrape(fleet, "gateway")
        assert (_value(gateway, "coagent_gateway_websocket_connections", endpoint="room") or 0) >= 1
        sent = _value(gateway, "coagent_gateway_websocket_frames_sent_total", endpoint="room")
        assert (sent or 0) >= 2  # at least the question's echo and the reply
    assert _value(gateway, "coagent_http_requests_total", service="gateway")

    chat = await _scrape(fleet, "chat")
    for kind in ("human", "agent"):
        stored = _value(chat, "coagent_chat_messages_stored_total", sender_kind=kind)
        assert (stored or 0) >= 1, kind

    trigger = await _scrape(fleet, "trigger")
    fired = _value(trigger, "coagent_trigger_firings_total", kind="user_message", outcome="fired")
    assert (fired or 0) >= 1

    engine = await _scrape(fleet, "workflow-engine")
    assert (_value(engine, "coagent_workflow_runs_started_total") or 0) >= 1

    async def finished() -> Samples | None:
        samples = await _scrape(fleet, "workflow-engine")
        done = _value(samples, "coagent_workflow_runs_finished_total", status="succeeded")
        return samples if done else None

    engine = await eventually(finished, "a succeeded run counted", timeout_s=20)
    duration = "coagent_workflow_run_duration_seconds_count"
    assert (_value(engine, duration, status="succeeded") or 0) >= 1
    node = "coagent_workflow_node_duration_seconds_count"
    assert (_value(engine, node, node_type="agent", status="succeeded") or 0) >= 1
    tokens = _value(engine, "coagent_llm_tokens_total", provider="offline", type="completion")
    assert (tokens or 0) > 0
    # The consumer-info poller reads the engine's durable consumers from NATS.
    firings = {"service": "workflow-engine", "consumer": "workflow-engine-firings"}
    assert _value(engine, "coagent_jetstream_consumer_num_pending", **firings) is not None
    assert _value(engine, "coagent_jetstream_consumer_num_ack_pending", **firings) is not None
