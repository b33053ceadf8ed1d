"""``/api/v1/triggers``: served here at the public path, behind the gateway's signed identity.

The gateway only checks that the caller is signed in; ownership (creator or admin) is decided
here, where the policies are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.exceptions import RequestValidationError

from coagent_kit.auth import Identity
from coagent_trigger.conditions import ConditionsError
from coagent_trigger.dry_run_schemas import DryRunRead, DryRunRequest
from coagent_trigger.overlap_service import OverlapService
from coagent_trigger.policies import Caller
from coagent_trigger.policy_schemas import (
    FireAccepted,
    FireRequest,
    FiringRead,
    PolicyRunRead,
    TriggerCreate,
    TriggerRead,
    TriggerUpdate,
)
from coagent_trigger.policy_service import PolicyDraft, PolicyService

router = APIRouter(prefix="/api/v1/triggers", tags=["triggers"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such trigger, or not the caller's (code trigger_not_found)"}
}
#: Answers of a write that sets a scope (see :mod:`coagent_trigger.scope`).
SCOPE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller may not act on that room or course (scope_forbidden)"},
    422: {"description": "Bad conditions, or a room and a course scope at once (scope_conflict)"},
    503: {"description": "The gateway could not say (gateway_unavailable); nothing stored"},
}


def _service(request: Request) -> PolicyService:
    service: PolicyService = request.app.state.policies
    return service


Service = Annotated[PolicyService, Depends(_service)]


def _overlap(request: Request) -> OverlapService:
    overlap: OverlapService = request.app.state.overlap
    return overlap


Overlap = Annotated[OverlapService, Depends(_overlap)]


@contextmanager
def _conditions_as_422() -> Iterator[None]:
    """Report bad conditions like any other body error (FastAPI's list, ``validation_error``)."""
    try:
        yield
    except ConditionsError as exc:
        raise RequestValidationError(
            [{**e, "loc": ["body", *e["loc"]]} for e in exc.errors]
        ) from None


def _caller(identity: Identity) -> Caller:
    return Caller(user_id=identity.user_id, platform_role=identity.platform_role)


@router.get("")
async def list_triggers(identity: Identity, policies: Service) -> list[TriggerRead]:
    """The caller's policies (every policy for admins), newest first."""
    return [TriggerRead.of(p) for p in await policies.visible(_caller(identity))]


@router.post("", status_code=status.HTTP_201_CREATED, responses=SCOPE_ERRORS)
async def create_trigger(body: TriggerCreate, identity: Identity, policies: Service) -> TriggerRead:
    """Create a policy; a webhook policy's signing secret is in this response only."""
    draft = PolicyDraft(**body.model_dump())
    with _conditions_as_422():
        saved = await policies.create(_caller(identity), draft)
    return TriggerRead.of(saved.policy, saved.signing_secret)


@router.get("/{trigger_id}", responses=NOT_FOUND)
async def get_trigger(trigger_id: str, identity: Identity, policies: Service) -> TriggerRead:
    """One policy."""
    return TriggerRead.of(await policies.get(_caller(identity), trigger_id))


@router.put("/{trigger_id}", responses={**NOT_FOUND, **SCOPE_ERRORS})
async def update_trigger(
    trigger_id: str, body: TriggerUpdate, identity: Identity, policies: Service
) -> TriggerRead:
    """Change the fields sent (e.g. only ``is_active``); a scope field sent as ``null`` clears
    that scope."""
    with _conditions_as_422():
        saved = await policies.update(_caller(identity), trigger_id, body.changes())
    return TriggerRead.of(saved.policy, saved.signing_secret)


@router.delete("/{trigger_id}", responses=NOT_FOUND)
async def delete_trigger(trigger_id: str, identity: Identity, policies: Service) -> dict[str, bool]:
    """Delete a policy and its firing log."""
    await policies.delete(_caller(identity), trigger_id)
    return {"ok": True}


@router.post(
    "/{trigger_id}/fire",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, 409: {"description": "Trigger inactive (trigger_inactive)"}},
)
async def fire_trigger(
    trigger_id: str,
    identity: Identity,
    policies: Service,
    body: FireRequest | None = None,
) -> FireAccepted:
    """Fire now: a manual policy, or a test fire of any policy. The run starts asynchronously."""
    request = body or FireRequest()
    firing = await policies.fire_manually(
        _caller(identity), trigger_id, request.room_id, request.payload
    )
    return FireAccepted(firing_id=firing.id, firing_key=firing.firing_key, outcome=firing.outcome)


@router.get("/{trigger_id}/firings", responses=NOT_FOUND)
async def list_firings(
    trigger_id: str,
    identity: Identity,
    policies: Service,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[FiringRead]:
    """The policy's firing log, newest first."""
    firings = await policies.firings(_caller(identity), trigger_id, limit)
    return [FiringRead.of(f) for f in firings]


@router.get("/{trigger_id}/runs", responses=NOT_FOUND)
async def list_runs(
    trigger_id: str,
    identity: Identity,
    policies: Service,
    overlap: Overlap,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[PolicyRunRead]:
    """The runs the policy started, newest first, with the status their lifecycle events
    reported (the workflow engine's run has the node-by-node detail)."""
    policy = await policies.get(_caller(identity), trigger_id)
    return [PolicyRunRead.of(run, policy) for run in await overlap.runs(policy.id, limit)]


@router.post(
    "/{trigger_id}/dry-run",
    responses={**NOT_FOUND, 422: {"description": "Not a message or silence policy"}},
)
async def dry_run_trigger(
    trigger_id: str, body: DryRunRequest, identity: Identity, policies: Service
) -> DryRunRead:
    """Replay messages (as chat's history returns them) against the policy: which firings
    would have happened. Starts no run and writes nothing."""
    messages = [m.as_posted() for m in body.messages]
    result = await policies.dry_run(_caller(identity), trigger_id, messages)
    return DryRunRead.of(trigger_id, result)
