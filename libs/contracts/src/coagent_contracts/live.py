"""Ephemeral live subjects on core NATS (typing, token deltas, presence, progress frames).

These frames are worthless once missed, so they are never stored: every live subject starts
with ``live.``, which no stream captures (checked by the tests against ``ALL_STREAMS``).
"""

from __future__ import annotations

from coagent_contracts.subjects import join_subject

__all__ = [
    "LIVE_FILTER",
    "LIVE_ROOM_FILTER",
    "LIVE_RUN_FILTER",
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
