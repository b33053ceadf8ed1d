"""Tracing of the WebSocket path: a frame a user sends starts a trace (``ws.receive``); a frame
sent to a socket (``ws.deliver``) joins the trace of the event it was made from, so the whole
path of one message, from the sender's socket to every reader's, is one trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import SpanKind

from coagent_kit.tracing import ROOM_ID, exporting, new_trace, span


@contextmanager
def receive_span(room_id: str, user_id: str) -> Iterator[None]:
    """The root span of what one received frame causes."""
    with new_trace("ws.receive", {ROOM_ID: room_id, "enduser.id": user_id}):
        yield


@contextmanager
def deliver_span(topic: str, frame: dict[str, Any]) -> Iterator[None]:
    """A span around sending ``frame`` to one socket, in the trace of the frame's event.

    Only when spans are exported and the frame came from a traced event: one span per socket and
    frame is the cost of fan-out, paid only when someone looks at the traces.
    """
    context = getattr(frame, "trace_context", None)
    if context is None or not exporting():
        yield
        return
    attributes = {
        ROOM_ID: frame.get("room_id"),
        "coagent.topic": topic,
        "coagent.frame_type": frame.get("type"),
        "coagent.seq": frame.get("seq"),
    }
    with span("ws.deliver", attributes, parent=context, kind=SpanKind.PRODUCER):
        yield
