"""The JSON frames (and history items) the web client renders.

One shape serves both: the history route's items and the WebSocket's ``message`` frames, so a
client can merge them by ``seq``.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from coagent_contracts.chat import MessagePostedData


def message_frame(m: MessagePostedData) -> dict[str, Any]:
    """A stored message as the client's ``message`` frame (and history item)."""
    is_ai = m.sender_kind == "agent"
    timestamp = m.created_at.isoformat().replace("+00:00", "Z")
    return {
        "type": "system" if m.sender_kind == "system" else "message",
        "id": m.message_id,
        "seq": m.seq,
        "room_id": m.room_id,
        "sender": m.sender_name or ("AI" if is_ai else "Unknown"),
        "sender_id": m.sender_id,
        "agent_type": "agent" if is_ai else None,
        "content": m.content,
        "timestamp": timestamp,
        "created_at": timestamp,
        "metadata": {"is_ai": is_ai, "sender_id": m.sender_id, "agent_id": m.agent_id},
    }


def from_chat_record(record: dict[str, Any]) -> dict[str, Any]:
    """A frame from the chat service's history record (its ``MessageRead``)."""
    return message_frame(
        MessagePostedData(
            message_id=record["id"],
            room_id=record["room_id"],
            seq=record["seq"],
            sender_id=record["sender_id"],
            sender_kind=record["sender_kind"],
            sender_name=record["sender_name"],
            agent_id=record["agent_id"],
            content=record["content"],
            thread_id=record["thread_id"],
            mentions=tuple(record["mentions"]),
            created_at=record["created_at"],
        )
    )


class SharedFrame(dict[str, Any]):
    """A frame fanned out to many sockets: encoded to JSON once, not once per socket."""

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
