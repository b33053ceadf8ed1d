"""One user action is one trace: a chat message sent on the WebSocket that fires a workflow whose
agent answers, read back from the spans every service exported over OTLP/HTTP.

gateway (``ws.receive``) → chat (``chat.store_message``) → NATS → trigger (``trigger.evaluate``,
``trigger.fire``) → NATS → workflow-engine (``workflow.run``, ``workflow.node``, ``llm.call``) →
NATS → chat (``chat.store_message`` of the reply) → NATS → gateway (``ws.deliver`` of the reply).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from coagent_cli.fleet import Fleet
from coagent_cli.testing_traces import OtlpReceiver, ReceivedSpan

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, agent_room, frames_until_reply, login

pytestmark = pytest.mark.e2e


async def _send_and_wait_for_reply(url: str, cookie: str, text: str) -> dict[str, Any]:
    """Send ``text`` on the room socket; the agent's stored reply frame."""
    async with connect(url, additional_headers={"Cookie": cookie}) as ws:
        await ws.send(text)
        return (await frames_until_reply(ws, text))[-1]


def _chain(spans: list[ReceivedSpan], leaf: ReceivedSpan) -> list[ReceivedSpan]:
    """``leaf`` and its ancestors by parent link, root first (as far as they were exported)."""
    by_id = {s.span_id: s for s in spans}
    chain = [leaf]
    while chain[-1].parent_id is not None and chain[-1].parent_id in by_id:
        chain.append(by_id[chain[-1].parent_id])
    return chain[::-1]


def _reply_delivered(spans: list[ReceivedSpan], seq: int) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == "ws.deliver" and s.attributes.get("coagent.seq") == seq]


def _rooted(spans: list[ReceivedSpan], leaves: list[ReceivedSpan]) -> bool:
    """Whether every leaf's ancestors were exported up to a root (spans of a run still going,
    such as ``workflow.run`` while the reply is delivered, arrive when they end)."""
    return bool(leaves) and all(_chain(spans, leaf)[0].parent_id is None for leaf in leaves)


def _one(spans: list[ReceivedSpan], name: str, **attributes: Any) -> ReceivedSpan:
    found = [
        s
        for s in spans
        if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, (name, attributes, found)
    return found[0]


def _names(chain: list[ReceivedSpan], wanted: tuple[str, ...]) -> list[str]:
    """The ``wanted`` operation names along ``chain``, in order (transport spans skipped)."""
    return [s.name for s in chain if s.name in wanted]


async def test_a_message_that_fires_an_agent_is_one_trace_from_socket_in_to_reply_out(
    fleet: Fleet, trace_receiver: OtlpReceiver
) -> None:
    keyword = f"tr{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=fleet.gateway_url, timeout=15) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        room_id = agent_room(admin, keyword)["room_id"]
        cookie = f"access_token={admin.cookies.get('access_token', path='/')}"
    url = fleet.gateway_url.replace("http://", "ws://") + f"/api/v1/chat/ws/{room_id}"
    reply = await _send_and_wait_for_reply(url, cookie, f"Please {keyword} this")

    # The root: the frame the user sent, a trace of its own (not the connection's).
    received = trace_receiver.wait_for(
        lambda spans: any(s.attributes.get("coagent.room_id") == room_id for s in spans),
        "the ws.receive span of the room",
    )
    root = _one(received, "ws.receive", **{"coagent.room_id": room_id})
    assert root.service == "gateway"
    assert root.parent_id is None
    trace_id = root.trace_id

    def complete(spans: list[ReceivedSpan]) -> bool:
        calls = [s for s in spans if s.name == "llm.call"]
        delivered = _reply_delivered(spans, reply["seq"])
        return _rooted(spans, calls) and _rooted(spans, delivered)

    spans = trace_receiver.wait_for(complete, "the reply's ws.deliver span", trace_id=trace_id)
    services = {s.service for s in spans}
    assert {"gateway", "chat", "trigger", "workflow-engine"} <= services, services

    # Question in → model call: every hop is a descendant of the previous one.
    llm = _one(spans, "llm.call")
    question_path = _chain(spans, llm)
    assert question_path[0] == root
    wanted = (
        "ws.receive",
        "chat.store_message",
        "trigger.evaluate",
        "trigger.fire",
        "workflow.run",
        "workflow.node",
        "llm.call",
    )
    assert _names(question_path, wanted) == list(wanted)
    run = next(s for s in question_path if s.name == "workflow.run")
    assert run.attributes["coagent.room_id"] == room_id
    assert run.attributes["coagent.policy_id"]
    assert run.attributes["coagent.run_id"] == reply["metadata"]["run_id"]
    fire = next(s for s in question_path if s.name == "trigger.fire")
    assert fire.attributes["coagent.policy_id"] == run.attributes["coagent.policy_id"]
    assert llm.attributes["gen_ai.request.model"]
    assert llm.attributes["gen_ai.usage.output_tokens"] > 0
    assert llm.attributes["coagent.llm.offline"] is True

    # Reply out: the agent node → chat stores the reply → the gateway sends it to the socket.
    delivered = _one(spans, "ws.deliver", **{"coagent.seq": reply["seq"]})
    answer_path = _chain(spans, delivered)
    assert answer_path[0] == root
    wanted = (
        "ws.receive",
        "chat.store_message",
        "trigger.evaluate",
        "trigger.fire",
        "workflow.run",
        "workflow.node",
        "chat.store_message",
        "ws.deliver",
    )
    assert _names(answer_path, wanted) == list(wanted)
    stored = [s for s in answer_path if s.name == "chat.store_message"][-1]
    assert stored.attributes["coagent.sender_kind"] == "agent"
    # Causal order holds in time too: each span starts no earlier than its parent.
    for parent, child in zip(answer_path, answer_path[1:], strict=False):
        assert child.start_ns >= parent.start_ns, (parent.name, child.name)
