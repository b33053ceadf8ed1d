"""The JSON frames (and history items) the web client renders.

One shape serves both: the history route's items and the WebSocket's ``message`` frames, so a
client can merge them by ``seq``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from coagent_contracts.chat import MessagePostedData
from coagent_contracts.graphrag import GraphBuildProgressV1


def message_frame(m: MessagePostedData) -> dict[str, Any]:
    """A stored message as the client's ``message`` frame (and history item).

    Agent messages name their agent: ``agent_type`` is its type (``"agent"`` when unknown, so
    the reference client's ``isAi = !!agent_type`` holds) and an unnamed agent shows as
    ``"<Type> AI"`` (the client also treats a sender containing ``AI`` as an agent).
    """
    is_ai = m.sender_kind == "agent"
    agent_type = (m.agent_type or "agent") if is_ai else m.agent_type
    timestamp = m.created_at.isoformat().replace("+00:00", "Z")
    return {
        "type": "system" if m.sender_kind == "system" else "message",
        "id": m.message_id,
        "seq": m.seq,
        "room_id": m.room_id,
        "sender": m.sender_name or _fallback_sender(m, agent_type),
        "sender_id": m.sender_id,
        "agent_type": agent_type,
        "content": m.content,
        "timestamp": timestamp,
        "created_at": timestamp,
        "metadata": {
            "is_ai": is_ai,
            "sender_id": m.sender_id,
            "agent_id": m.agent_id,
            "agent_type": agent_type,
            "run_id": m.run_id,
            "offline": m.offline,
            "stream_id": m.stream_id,
            "client_msg_id": m.client_msg_id,
        },
    }


def graph_build_frame(event: GraphBuildProgressV1) -> dict[str, Any]:
    """A build of the room's knowledge graph advanced or ended (no ``sender``/``content``, so
    the reference client never renders it as chat); ``progress`` runs from 0 to 1 within one
    attempt. A build rerun after a crash starts again with the next ``attempt``; ``(attempt,
    step)`` orders a build's frames, so a client can ignore one that arrives late."""
    d = event.data
    if d.status == "succeeded":
        progress = 1.0
    elif d.stage == "reports" and d.total:
        progress = round(0.5 + 0.5 * d.done / d.total, 4)
    else:
        progress = {"ingest": 0.1, "clustering": 0.4, "reports": 0.5}.get(d.stage, 0.0)
    return {
        "type": "graph_build",
        "room_id": d.room_id,
        "build_id": d.build_id,
        "attempt": d.attempt,
        "step": d.step,
        "stage": d.stage,
        "status": d.status,
        "progress": progress,
        "done": d.done,
        "total": d.total,
        "communities": d.communities,
        "error": d.error,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
    }


def _fallback_sender(m: MessagePostedData, agent_type: str | None) -> str:
    if m.sender_kind == "agent":
        return f"{(agent_type or 'agent').capitalize()} AI"
    return "System" if m.sender_kind == "system" else "Unknown"


def from_chat_record(record: dict[str, Any]) -> dict[str, Any]:
    """A frame from the chat service's history record (its ``MessageRead``).

    Fields newer than the first ``MessageRead`` are optional, so an older chat service still
    gives valid frames.
    """
    return message_frame(
        MessagePostedData(
            message_id=record["id"],
            room_id=record["room_id"],
            seq=record["seq"],
            sender_id=record.get("sender_id"),
            sender_kind=record["sender_kind"],
            sender_name=record.get("sender_name"),
            agent_id=record.get("agent_id"),
            agent_type=record.get("agent_type"),
            run_id=record.get("run_id"),
            offline=bool(record.get("offline", False)),
            stream_id=record.get("stream_id"),
            client_msg_id=record.get("client_msg_id"),
            content=record["content"],
            thread_id=record.get("thread_id"),
            mentions=tuple(record.get("mentions") or ()),
            created_at=record["created_at"],
        )
    )


class SharedFrame(dict[str, Any]):
    """A frame fanned out to many sockets: encoded to JSON once, not once per socket."""

    #: Trace context (``traceparent``…) of the event the frame was made from, if it had one.
    trace_context: Mapping[str, str] | None = None

    @cached_property
    def text(self) -> str:
        """The frame as compact JSON."""
        return json.dumps(self, separators=(",", ":"))


def frame_text(frame: dict[str, Any]) -> str:
    """JSON of ``frame``, reusing a shared frame's encoding."""
    if isinstance(frame, SharedFrame):
        return frame.text
    return json.dumps(frame, separators=(",", ":"))


def event_text(topic: str, frame: dict[str, Any]) -> str:
    """The multiplexed socket's ``event`` message around ``frame``, without re-encoding it."""
    return f'{{"op":"event","topic":{json.dumps(topic)},"data":{frame_text(frame)}}}'
