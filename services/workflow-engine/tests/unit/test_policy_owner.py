"""A trigger policy starts only workflows its owner may run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coagent_contracts.trigger import TriggerFiredV1
from coagent_contracts.workflow import RunFailedV1
from coagent_workflow_engine.adapters.memory import MemoryStore
from coagent_workflow_engine.service import WorkflowEngineService

Fired = Callable[..., TriggerFiredV1]


def owned(event: TriggerFiredV1, owner: str | None, role: str | None) -> TriggerFiredV1:
    data = event.data.model_copy(update={"owner_id": owner, "owner_role": role})
    return event.model_copy(update={"data": data})


@pytest.mark.parametrize(
    ("owner", "role", "status"),
    [
        ("u1", "teacher", "queued"),  # the workflow's owner
        ("u2", "admin", "queued"),  # admins may run any workflow
        (None, None, "queued"),  # a firing from before owners were carried
        ("u2", "teacher", "failed"),
        ("u2", None, "failed"),
    ],
)
async def test_the_owner_decides_whether_the_run_starts(
    service: WorkflowEngineService,
    store: MemoryStore,
    fired: Fired,
    owner: str | None,
    role: str | None,
    status: str,
) -> None:
    run = await service.queue_run_for_firing(owned(fired(workflow_id="w1"), owner, role))

    assert run is not None
    assert run.status == status
    failures = [e for e in store.published if isinstance(e, RunFailedV1)]
    if status == "failed":
        [failure] = failures
        assert failure.data.error_code == "policy_owner_forbidden"
    else:
        assert failures == []
