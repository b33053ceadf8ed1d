"""Run state transitions and the lifecycle events they publish (one place for both).

Terminal transitions clear the lease and are written with their event in one transaction, so
the gateway's ``workflow_trace`` frames and the runs API never disagree about how a run ended.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from coagent_contracts.envelope import Event
from coagent_contracts.workflow import (
    RunCancelledData,
    RunCancelledV1,
    RunCompletedData,
    RunCompletedV1,
    RunFailedData,
    RunFailedV1,
    RunStartedData,
    RunStartedV1,
)
from coagent_workflow_engine.domain import Run, RunStatus

PRODUCER = "workflow-engine"


def _keys(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "workflow_id": run.workflow_id,
        "workflow_version": run.workflow_version,
        "room_id": run.room_id,
        "firing_key": run.trigger.firing_key if run.trigger else None,
        "policy_id": run.trigger.policy_id if run.trigger else None,
    }


def run_started(run: Run) -> RunStartedV1:
    return RunStartedV1(producer=PRODUCER, correlation_id=run.id, data=RunStartedData(**_keys(run)))


def succeeded(run: Run, now: datetime, output: dict[str, Any]) -> tuple[Run, Event]:
    done = replace(
        run,
        status="succeeded",
        finished_at=now,
        output=output,
        lease_owner=None,
        lease_expires_at=None,
        pending_input=None,
    )
    data = RunCompletedData(**_keys(run), output=output)
    return done, RunCompletedV1(producer=PRODUCER, correlation_id=run.id, data=data)


def failed(
    run: Run, now: datetime, code: str, error: str, *, timed_out: bool = False
) -> tuple[Run, Event]:
    status: Literal["failed", "timed_out"] = "timed_out" if timed_out else "failed"
    run_status: RunStatus = status
    done = replace(
        run,
        status=run_status,
        finished_at=now,
        error=error[:2000],
        error_code=code,
        lease_owner=None,
        lease_expires_at=None,
        pending_input=None,
    )
    data = RunFailedData(**_keys(run), error_code=code, error=error[:2000], status=status)
    return done, RunFailedV1(producer=PRODUCER, correlation_id=run.id, data=data)


def cancelled(
    run: Run, now: datetime, reason: str | None = None, by: str | None = None
) -> tuple[Run, Event]:
    done = replace(
        run,
        status="cancelled",
        finished_at=now,
        error=reason,
        error_code="cancelled",
        cancel_requested=True,
        lease_owner=None,
        lease_expires_at=None,
        pending_input=None,
    )
    data = RunCancelledData(**_keys(run), reason=reason, cancelled_by=by)
    return done, RunCancelledV1(producer=PRODUCER, correlation_id=run.id, data=data)


def interrupted(run: Run, asked: dict[str, Any]) -> Run:
    """Waiting for a human: no worker holds it until someone answers."""
    return replace(
        run, status="interrupted", pending_input=asked, lease_owner=None, lease_expires_at=None
    )
