"""WebSocket metrics: frames dropped by a full queue, slow consumers, frames sent."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import REGISTRY

from coagent_gateway.chat.live import Outbox, RoomHub
from coagent_gateway.chat.multiplex import MuxSession
from coagent_gateway.domain import PlatformRole, User

USER = User("u1", "ada@example.org", "ada", PlatformRole.STUDENT, full_name="Ada")


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class _Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))


def test_an_overflowing_queue_counts_each_dropped_frame_and_one_slow_consumer() -> None:
    dropped = _sample("coagent_gateway_websocket_frames_dropped_total")
    slow = _sample("coagent_gateway_websocket_slow_consumers_total")
    outbox = Outbox(limit=2)
    for seq in range(5):
        outbox.offer("room:a", {"seq": seq})
    assert _sample("coagent_gateway_websocket_frames_dropped_total") == dropped + 3
    assert _sample("coagent_gateway_websocket_slow_consumers_total") == slow + 1


async def test_frames_delivered_on_the_multiplexed_socket_are_counted_once_each() -> None:
    sent = _sample("coagent_gateway_websocket_frames_sent_total", endpoint="multiplexed")
    socket = _Socket()
    session = MuxSession(socket, USER, None, RoomHub("nats://unused"))  # type: ignore[arg-type]
    for seq in (1, 2, 2):  # the repeated seq is skipped, not sent
        await session._deliver("room:a", {"type": "message", "seq": seq})
    assert [m["data"]["seq"] for m in socket.sent] == [1, 2]
    assert _sample("coagent_gateway_websocket_frames_sent_total", endpoint="multiplexed") == (
        sent + 2
    )
