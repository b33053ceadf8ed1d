"""Runs of workflows: pure types and rules (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from coagent_kit.errors import NotFound

RunStatus = Literal[
    "queued", "running", "interrupted", "succeeded", "failed", "cancelled", "timed_out"
]
TriggerKind = Literal["user_message", "silence", "timer", "cron", "webhook", "manual"]

#: The workflow version a run records while workflow definitions do not exist yet: the first
#: version every definition will get. Not 0: the run events' contract (``RunData``) requires a
#: version of at least 1, and a run whose ``RunQueuedV1`` cannot be built would never be created.
FIRST_WORKFLOW_VERSION = 1


class RunNotFound(NotFound):
    code = "run_not_found"


@dataclass(frozen=True)
class RunTrigger:
    """The trigger firing that created a run.

    ``firing_key`` identifies the firing (one run per firing); ``event_id`` is the id of the
    ``trigger fired`` event that carried it.
    """

    kind: TriggerKind
    policy_id: str
    firing_key: str
    event_id: str


@dataclass(frozen=True)
class Run:
    """One execution of one workflow version; ``trigger`` is ``None`` for runs started directly."""

    id: str
    workflow_id: str
    workflow_version: int
    status: RunStatus
    trigger: RunTrigger | None
    room_id: str | None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None

    @classmethod
    def queued(
        cls,
        run_id: str,
        workflow_id: str,
        trigger: RunTrigger | None,
        room_id: str | None,
        now: datetime,
        workflow_version: int = FIRST_WORKFLOW_VERSION,
    ) -> Run:
        """A new run waiting for a worker."""
        return cls(
            id=run_id,
            workflow_id=workflow_id,
            workflow_version=workflow_version,
            status="queued",
            trigger=trigger,
            room_id=room_id,
            created_at=now,
        )
