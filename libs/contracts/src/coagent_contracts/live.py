"""Ephemeral live subjects on core NATS (typing, token deltas, presence, progress frames).

These frames are worthless once missed, so they are never stored: every live subject starts
with ``live.``, which no stream captures (checked by the tests against ``ALL_STREAMS``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from coagent_contracts.subjects import join_subject

__all__ = [
    "LIVE_FILTER",
    "LIVE_ROOM_FILTER",
    "LIVE_RUN_FILTER",
    "MessageDeltaFrame",
    "room_live",
    "run_live",
]

LIVE_FILTER = "live.>"
"""Every live frame of every room and run."""
LIVE_ROOM_FILTER = "live.room.*"
"""Live frames of every room."""
LIVE_RUN_FILTER = "live.run.*"
"""Live frames of every run."""


def room_live(room_id: str) -> str:
    """Core-NATS subject for a room's live frames: ``live.room.<room_id>``."""
    return join_subject("live", "room", room_id)


def run_live(run_id: str) -> str:
    """Core-NATS subject for a run's live frames (token deltas, progress): ``live.run.<run_id>``."""
    return join_subject("live", "run", run_id)


class MessageDeltaFrame(BaseModel):
    """One chunk of an agent reply while it streams (on ``live.room.<room_id>``).

    Clients append ``delta`` to the bubble keyed by ``stream_id``; the stored message that
    follows carries the same ``stream_id`` and replaces the streamed text.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["message_delta"] = "message_delta"
    room_id: str = Field(min_length=1)
    stream_id: str = Field(min_length=1)
    index: int = Field(ge=0)
    """Position of this chunk in the stream, so a client can drop duplicates and spot gaps."""
    delta: str
    run_id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
