"""Prometheus metrics of the gateway's WebSockets: open connections, frames sent and dropped.

``endpoint`` is ``room`` (``/api/v1/chat/ws/{room_id}``) or ``multiplexed`` (``/api/v1/ws``);
rooms and users are never labels.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter, Gauge

Endpoint = Literal["room", "multiplexed"]

WS_CONNECTIONS = Gauge(
    "coagent_gateway_websocket_connections",
    "Open WebSocket connections (authenticated) of this process",
    ["endpoint"],
)
WS_FRAMES_SENT = Counter(
    "coagent_gateway_websocket_frames_sent_total",
    "Event frames sent to WebSocket clients (replayed and live)",
    ["endpoint"],
)
WS_FRAMES_DROPPED = Counter(
    "coagent_gateway_websocket_frames_dropped_total",
    "Frames not queued because the client's queue was full (the client is disconnected)",
)
WS_SLOW_CONSUMERS = Counter(
    "coagent_gateway_websocket_slow_consumers_total",
    "Connections dropped because the client could not keep up (it may resume from its seq)",
)


def frame_sent(endpoint: Endpoint) -> None:
    WS_FRAMES_SENT.labels(endpoint).inc()


def connected(endpoint: Endpoint) -> None:
    WS_CONNECTIONS.labels(endpoint).inc()


def disconnected(endpoint: Endpoint) -> None:
    WS_CONNECTIONS.labels(endpoint).dec()


def frame_dropped(first: bool) -> None:
    """One frame refused by a full queue; ``first`` when it is the one that overflowed it."""
    WS_FRAMES_DROPPED.inc()
    if first:
        WS_SLOW_CONSUMERS.inc()
