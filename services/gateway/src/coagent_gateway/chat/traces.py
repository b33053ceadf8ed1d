"""Room frames made from events other than new messages: workflow traces, artifact changes and
message tombstones.

The shapes are the reference client's (``workflow_trace``, ``artifact_update``,
``artifact_delete``) plus ``message_deleted`` (messages forgotten or pruned by retention: clients
drop them by ``id``/``seq``). None carries ``sender``/``content``, so the reference client never
renders them as chat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from coagent_contracts.chat import ArtifactChangedV1, ArtifactDeletedV1, MessagesErasedV1
from coagent_contracts.envelope import Event
from coagent_contracts.events import parse_event
from coagent_contracts.workflow import (
    NodeFinishedV1,
    RunCancelledV1,
    RunCompletedV1,
    RunFailedV1,
    RunStartedV1,
)

#: Every subject whose events become room frames here.
TRACE_FILTERS = (
    RunStartedV1.FILTER,
    NodeFinishedV1.FILTER,
    RunCompletedV1.FILTER,
    RunFailedV1.FILTER,
    RunCancelledV1.FILTER,
    ArtifactChangedV1.FILTER,
    ArtifactDeletedV1.FILTER,
    MessagesErasedV1.FILTER,
)


def _iso(event: Event) -> str:
    return _z(event.occurred_at)


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def room_frame(raw: bytes) -> tuple[str, dict[str, Any]] | None:
    """(room id, frame) for a workflow or artifact event about a room; None otherwise."""
    try:
        event = parse_event(raw)
    except (ValidationError, ValueError):
        return None
    if isinstance(event, ArtifactChangedV1 | ArtifactDeletedV1):
        return event.data.room_id, _artifact_frame(event)
    if isinstance(event, MessagesErasedV1):
        return event.data.room_id, message_deleted_frame(event)
    trace = trace_parts(event)
    room_id = getattr(getattr(event, "data", None), "room_id", None)
    if trace is None or not isinstance(room_id, str):
        return None
    node_id, kind, sub_status = trace
    run_id = getattr(event.data, "run_id", "")
    return room_id, {
        "type": "workflow_trace",
        "run_id": run_id,
        "room_id": room_id,
        "node_id": node_id,
        "event_type": kind,
        "sub_status": sub_status,
        "timestamp": _iso(event),
    }


def trace_parts(event: Event) -> tuple[str | None, str, str] | None:
    """(node id, event type, sub status) of a run event."""
    if isinstance(event, RunStartedV1):
        return None, "run_started", "running"
    if isinstance(event, NodeFinishedV1):
        return event.data.node_id, "node_finished", event.data.status
    if isinstance(event, RunCompletedV1):
        return None, "run_finished", "succeeded"
    if isinstance(event, RunFailedV1):
        return None, "run_finished", event.data.status
    if isinstance(event, RunCancelledV1):
        return None, "run_finished", "cancelled"
    return None


def message_deleted_frame(event: MessagesErasedV1) -> dict[str, Any]:
    """``{"type": "message_deleted", "room_id", "message_ids", "seqs", "reason", "timestamp"}``."""
    d = event.data
    return {
        "type": "message_deleted",
        "room_id": d.room_id,
        "message_ids": list(d.message_ids),
        "seqs": list(d.seqs),
        "reason": d.reason,
        "timestamp": _iso(event),
    }


def _artifact_frame(event: ArtifactChangedV1 | ArtifactDeletedV1) -> dict[str, Any]:
    if isinstance(event, ArtifactDeletedV1):
        return {
            "type": "artifact_delete",
            "artifact_id": event.data.artifact_id,
            "room_id": event.data.room_id,
            "hard": event.data.hard,
            "timestamp": _iso(event),
        }
    d = event.data
    artifact = {
        "id": d.artifact_id,
        "room_id": d.room_id,
        "type": d.artifact_type,
        "title": d.title,
        "content": d.content,
        "version": d.version,
        "parent_artifact_id": d.parent_artifact_id,
        "last_modified_by": d.changed_by,
        "updated_at": _z(d.updated_at) if d.updated_at else _iso(event),
    }
    if d.created_by is not None or d.created_at is not None:
        artifact |= {
            "created_by": d.created_by,
            "created_at": _z(d.created_at) if d.created_at else None,
        }
    elif d.version == 1:  # an older publisher: the first editor is the creator
        artifact |= {"created_by": d.changed_by, "created_at": _iso(event)}
    return {
        "type": "artifact_update",
        "room_id": d.room_id,
        "artifact": artifact,
        "timestamp": _iso(event),
    }
