"""``GET /api/v1/triggers/{id}/runs``: the runs a policy started, from their lifecycle events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from coagent_contracts.trigger import TriggerFiredV1
from coagent_contracts.workflow import (
    RunCancelledData,
    RunCancelledV1,
    RunCompletedData,
    RunCompletedV1,
    RunFailedData,
    RunFailedV1,
    RunQueuedData,
    RunQueuedV1,
    RunStartedData,
    RunStartedV1,
)
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.overlap import ENDED_KEPT
from coagent_trigger.overlap_service import OverlapService, RunEvent
from coagent_trigger.policy_service import PolicyService
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.settings import TriggerSettings

from .clock import Clock

BASE = "/api/v1/triggers"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
Auth = Callable[..., dict[str, str]]


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def policies(store: MemoryStore, box: SecretBox, clock: Clock) -> PolicyService:
    return PolicyService(lambda: MemoryUnitOfWork(store), box, clock)


@pytest.fixture
def overlap(store: MemoryStore, clock: Clock) -> OverlapService:
    return OverlapService(lambda: MemoryUnitOfWork(store), clock)


@pytest.fixture
async def client(memory_app: FastAPI, overlap: OverlapService) -> AsyncIterator[httpx.AsyncClient]:
    memory_app.state.overlap = overlap
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://trigger") as http:
        yield http


@pytest.fixture
def as_user(settings: TriggerSettings) -> Auth:
    secret = settings.internal_token_secret.get_secret_value()

    def headers(user_id: str, role: str = "teacher") -> dict[str, str]:
        identity = InternalIdentity(user_id=user_id, platform_role=role)
        return {HEADER: sign_identity(secret, identity, audience="trigger")}

    return headers


async def manual_policy(client: httpx.AsyncClient, headers: dict[str, str], mode: str) -> str:
    body = {
        "name": "Digest",
        "event_type": "manual",
        "conditions": {"overlap": mode},
        "target_workflow_id": "wf-1",
        "scope_session_id": "room-1",
    }
    response = await client.post(BASE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    policy_id: str = response.json()["id"]
    return policy_id


async def fire(client: httpx.AsyncClient, headers: dict[str, str], policy_id: str) -> Any:
    response = await client.post(f"{BASE}/{policy_id}/fire", headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def lifecycle(kind: str, firing: dict[str, Any], run_id: str, at: datetime) -> RunEvent:
    """One lifecycle event of the run of ``firing`` (as returned by the fire endpoint)."""
    policy_id = firing["firing_key"].split(":", 1)[0]
    common: dict[str, Any] = {
        "run_id": run_id,
        "workflow_id": "wf-1",
        "workflow_version": 1,
        "room_id": "room-1",
        "firing_key": firing["firing_key"],
        "policy_id": policy_id,
    }
    envelope = {"producer": "workflow-engine", "occurred_at": at}
    if kind == "queued":
        return RunQueuedV1(**envelope, data=RunQueuedData(**common))
    if kind == "started":
        return RunStartedV1(**envelope, data=RunStartedData(**common))
    if kind == "completed":
        return RunCompletedV1(**envelope, data=RunCompletedData(**common))
    if kind == "timed_out":
        data = RunFailedData(**common, error_code="wall_clock", error="took too long")
        return RunFailedV1(**envelope, data=data.model_copy(update={"status": "timed_out"}))
    return RunCancelledV1(**envelope, data=RunCancelledData(**common, reason="superseded"))


async def test_runs_are_listed_newest_first_with_status_times_and_trigger(
    client: httpx.AsyncClient,
    as_user: Auth,
    overlap: OverlapService,
    store: MemoryStore,
    clock: Clock,
) -> None:
    owner = as_user("u1")
    policy_id = await manual_policy(client, owner, "allow")
    first = await fire(client, owner, policy_id)
    clock.now = NOW + timedelta(seconds=10)
    second = await fire(client, owner, policy_id)
    t = NOW + timedelta(seconds=1)
    for kind, offset in (("queued", 0), ("started", 1), ("completed", 5)):
        await overlap.on_run_event(lifecycle(kind, first, "run-1", t + timedelta(seconds=offset)))
    # The second run's events arrive out of order: its end first.
    t2 = NOW + timedelta(seconds=11)
    for kind, offset in (("timed_out", 9), ("started", 2), ("queued", 0)):
        await overlap.on_run_event(lifecycle(kind, second, "run-2", t2 + timedelta(seconds=offset)))

    response = await client.get(f"{BASE}/{policy_id}/runs", headers=owner)

    assert response.status_code == 200, response.text
    newest, oldest = response.json()
    fired = {
        e.data.firing_key: e.event_id for e in store.published if isinstance(e, TriggerFiredV1)
    }
    assert oldest == {
        "id": "run-1",
        "workflow_id": "wf-1",
        "status": "succeeded",
        "room_id": "room-1",
        "fired_at": "2026-03-02T12:00:00Z",
        "started_at": "2026-03-02T12:00:02Z",
        "finished_at": "2026-03-02T12:00:06Z",
        "error": None,
        "trigger": {
            "kind": "manual",
            "policy_id": policy_id,
            "firing_key": first["firing_key"],
            "event_id": fired[first["firing_key"]],
        },
    }
    assert newest["id"] == "run-2"
    assert newest["status"] == "timed_out", "a late started/queued event does not reopen it"
    assert (newest["started_at"], newest["finished_at"]) == (
        "2026-03-02T12:00:13Z",
        "2026-03-02T12:00:20Z",
    )
    assert newest["error"] == "took too long"


async def test_firings_without_a_run_are_not_listed_and_limit_applies(
    client: httpx.AsyncClient, as_user: Auth, overlap: OverlapService, clock: Clock
) -> None:
    owner = as_user("u1")
    policy_id = await manual_policy(client, owner, "skip")
    going = await fire(client, owner, policy_id)
    skipped = await fire(client, owner, policy_id)
    assert skipped["outcome"] == "skipped"
    runs = f"{BASE}/{policy_id}/runs"
    assert (await client.get(runs, headers=owner)).json() == [], "announced runs only"

    await overlap.on_run_event(lifecycle("queued", going, "run-1", NOW))
    await overlap.on_run_event(lifecycle("cancelled", going, "run-1", NOW))
    clock.now = NOW + timedelta(seconds=5)
    later = await fire(client, owner, policy_id)
    await overlap.on_run_event(lifecycle("queued", later, "run-2", clock.now))

    listed = (await client.get(runs, headers=owner)).json()
    assert [(r["id"], r["status"], r["error"]) for r in listed] == [
        ("run-2", "queued", None),
        ("run-1", "cancelled", "superseded"),
    ]
    one = (await client.get(runs, params={"limit": 1}, headers=owner)).json()
    assert [r["id"] for r in one] == ["run-2"]


async def test_ended_runs_stay_listed_after_the_overlap_memory_of_them(
    client: httpx.AsyncClient, as_user: Auth, overlap: OverlapService, clock: Clock
) -> None:
    owner = as_user("u1")
    policy_id = await manual_policy(client, owner, "skip")
    ids = []
    for index in range(3):
        firing = await fire(client, owner, policy_id)
        await overlap.on_run_event(lifecycle("completed", firing, f"run-{index}", clock.now))
        ids.append(f"run-{index}")
        clock.now += ENDED_KEPT + timedelta(minutes=1)

    listed = (await client.get(f"{BASE}/{policy_id}/runs", headers=owner)).json()

    assert [r["id"] for r in listed] == ids[::-1]


@pytest.mark.parametrize("limit", ["0", "201", "many"])
async def test_a_bad_limit_is_422(client: httpx.AsyncClient, as_user: Auth, limit: str) -> None:
    owner = as_user("u1")
    policy_id = await manual_policy(client, owner, "skip")
    response = await client.get(f"{BASE}/{policy_id}/runs", params={"limit": limit}, headers=owner)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["detail"][0]["loc"] == ["query", "limit"]


async def test_runs_of_a_policy_the_caller_may_not_see_are_404(
    client: httpx.AsyncClient, as_user: Auth
) -> None:
    policy_id = await manual_policy(client, as_user("u1"), "skip")
    for path, who in (
        (f"{BASE}/{policy_id}/runs", as_user("u2")),
        (f"{BASE}/no-such-policy/runs", as_user("u1")),
    ):
        response = await client.get(path, headers=who)
        assert response.status_code == 404
        assert response.json()["code"] == "trigger_not_found"
    admin = await client.get(f"{BASE}/{policy_id}/runs", headers=as_user("a1", "admin"))
    assert admin.status_code == 200
    assert (await client.get(f"{BASE}/{policy_id}/runs")).status_code == 401
