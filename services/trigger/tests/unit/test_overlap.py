"""Overlap rules: skip, buffer one, cancel running and allow, driven by run lifecycle events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from coagent_contracts.trigger import TriggerFiredV1, TriggerRunCancelRequestedV1
from coagent_contracts.workflow import (
    RunCompletedData,
    RunCompletedV1,
    RunFailedData,
    RunFailedV1,
    RunQueuedData,
    RunQueuedV1,
)
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.conditions import Overlap
from coagent_trigger.overlap import ENDED_KEPT, PENDING_TTL, TrackedRun, decide
from coagent_trigger.overlap_service import OverlapService
from coagent_trigger.policies import Caller, Firing
from coagent_trigger.policy_service import PolicyDraft, PolicyService
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.settings import TriggerSettings

from .clock import Clock

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
OWNER = Caller("owner", "teacher")


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def policies(store: MemoryStore, box: SecretBox, clock: Clock) -> PolicyService:
    return PolicyService(lambda: MemoryUnitOfWork(store), box, clock)


@pytest.fixture
def overlap(store: MemoryStore, clock: Clock) -> OverlapService:
    return OverlapService(lambda: MemoryUnitOfWork(store), clock)


async def manual_policy(policies: PolicyService, mode: Overlap) -> str:
    draft = PolicyDraft("Digest", "manual", {"overlap": mode}, "wf-1", "room-1", True)
    return (await policies.create(OWNER, draft)).policy.id


async def fire(policies: PolicyService, policy_id: str) -> Firing:
    return await policies.fire_manually(OWNER, policy_id, None, {})


def queued(firing: Firing, run_id: str) -> RunQueuedV1:
    data = RunQueuedData(
        run_id=run_id,
        workflow_id="wf-1",
        workflow_version=1,
        room_id=firing.room_id,
        firing_key=firing.firing_key,
        policy_id=firing.policy_id,
    )
    return RunQueuedV1(producer="workflow-engine", data=data)


def completed(firing: Firing, run_id: str) -> RunCompletedV1:
    data = RunCompletedData(
        run_id=run_id,
        workflow_id="wf-1",
        workflow_version=1,
        room_id=firing.room_id,
        firing_key=firing.firing_key,
        policy_id=firing.policy_id,
    )
    return RunCompletedV1(producer="workflow-engine", data=data)


def fired_keys(store: MemoryStore) -> list[str]:
    return [e.data.firing_key for e in store.published if isinstance(e, TriggerFiredV1)]


def cancels(store: MemoryStore) -> list[TriggerRunCancelRequestedV1]:
    return [e for e in store.published if isinstance(e, TriggerRunCancelRequestedV1)]


# ------------------------------------------------------------------ the pure rule


def tracked(state: str, *, age: timedelta = timedelta(0), run_id: str | None = None) -> TrackedRun:
    return TrackedRun("k", "p", "r", state, NOW - age, run_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "action"),
    [
        ("skip", "skip"),
        ("buffer_one", "buffer"),
        ("cancel_running", "cancel_and_fire"),
        ("allow", "fire"),
    ],
)
def test_each_mode_decides_while_a_run_is_going(mode: Overlap, action: str) -> None:
    assert decide(mode, [tracked("running", run_id="r1")], NOW).action == action
    assert decide(mode, [], NOW).action == "fire"
    assert decide(mode, [tracked("ended", run_id="r1")], NOW).action == "fire"


def test_a_firing_without_a_run_stops_counting_after_the_pending_ttl() -> None:
    assert decide("skip", [tracked("pending", age=PENDING_TTL / 2)], NOW).action == "skip"
    assert decide("skip", [tracked("pending", age=PENDING_TTL)], NOW).action == "fire"
    # A run the engine announced keeps counting however long it takes.
    assert decide("skip", [tracked("running", age=PENDING_TTL * 10)], NOW).action == "skip"


# ------------------------------------------------------------------ firings and run events


async def test_skip_drops_firings_until_the_run_ends(
    policies: PolicyService, overlap: OverlapService, store: MemoryStore
) -> None:
    policy_id = await manual_policy(policies, "skip")
    first = await fire(policies, policy_id)
    second = await fire(policies, policy_id)  # before the engine even announced the run
    await overlap.on_run_event(queued(first, "run-1"))
    third = await fire(policies, policy_id)
    await overlap.on_run_event(completed(first, "run-1"))
    fourth = await fire(policies, policy_id)

    assert [f.outcome for f in (first, second, third, fourth)] == [
        "fired",
        "skipped",
        "skipped",
        "fired",
    ]
    assert fired_keys(store) == [first.firing_key, fourth.firing_key]
    assert store.firings[third.firing_key].detail["overlap"] == "skipped_running"
    assert store.firings[third.firing_key].detail["running_run_ids"] == ["run-1"]


async def test_buffer_one_keeps_the_latest_firing_and_fires_it_when_the_run_ends(
    policies: PolicyService, overlap: OverlapService, store: MemoryStore
) -> None:
    policy_id = await manual_policy(policies, "buffer_one")
    first = await fire(policies, policy_id)
    await overlap.on_run_event(queued(first, "run-1"))
    second = await fire(policies, policy_id)
    third = await fire(policies, policy_id)

    assert (second.outcome, third.outcome) == ("buffered", "buffered")
    assert fired_keys(store) == [first.firing_key]
    assert store.firings[second.firing_key].outcome == "skipped"
    assert store.firings[second.firing_key].detail["overlap"] == "buffer_replaced"

    await overlap.on_run_event(completed(first, "run-1"))

    assert fired_keys(store) == [first.firing_key, third.firing_key]
    released = store.firings[third.firing_key]
    assert released.outcome == "fired"
    assert released.detail["released_after_run_id"] == "run-1"
    assert store.buffered == {}
    # The released firing is now the slot's run in progress.
    assert (await fire(policies, policy_id)).outcome == "buffered"


async def test_cancel_running_stops_the_previous_run_and_fires(
    policies: PolicyService, overlap: OverlapService, store: MemoryStore
) -> None:
    policy_id = await manual_policy(policies, "cancel_running")
    first = await fire(policies, policy_id)
    await overlap.on_run_event(queued(first, "run-1"))
    second = await fire(policies, policy_id)

    assert second.outcome == "fired"
    assert second.detail["overlap"] == "cancelled_previous"
    assert fired_keys(store) == [first.firing_key, second.firing_key]
    [cancel] = cancels(store)
    assert (cancel.data.run_id, cancel.data.firing_key) == ("run-1", first.firing_key)
    assert (cancel.data.policy_id, cancel.data.superseded_by) == (policy_id, second.firing_key)


async def test_a_run_announced_after_its_cancel_was_decided_is_cancelled_then(
    policies: PolicyService, overlap: OverlapService, store: MemoryStore
) -> None:
    policy_id = await manual_policy(policies, "cancel_running")
    first = await fire(policies, policy_id)
    await fire(policies, policy_id)  # the first run's id is not known yet
    assert cancels(store) == []

    await overlap.on_run_event(queued(first, "run-1"))
    await overlap.on_run_event(queued(first, "run-1"))  # a redelivery asks nothing twice

    assert [c.data.run_id for c in cancels(store)] == ["run-1"]


async def test_allow_fires_alongside(policies: PolicyService, store: MemoryStore) -> None:
    policy_id = await manual_policy(policies, "allow")
    firings = [await fire(policies, policy_id) for _ in range(3)]
    assert [f.outcome for f in firings] == ["fired"] * 3
    assert len(fired_keys(store)) == 3


async def test_an_end_seen_before_the_start_is_not_undone(
    policies: PolicyService, overlap: OverlapService, store: MemoryStore
) -> None:
    policy_id = await manual_policy(policies, "skip")
    first = await fire(policies, policy_id)
    failed = RunFailedV1(
        producer="workflow-engine",
        data=RunFailedData(
            run_id="run-1",
            workflow_id="wf-1",
            workflow_version=1,
            room_id="room-1",
            firing_key=first.firing_key,
            policy_id=policy_id,
            error="boom",
            error_code="node_failed",
        ),
    )
    await overlap.on_run_event(failed)
    await overlap.on_run_event(queued(first, "run-1"))  # delivered late by its own consumer

    assert (await fire(policies, policy_id)).outcome == "fired"


async def test_runs_not_started_by_a_policy_are_ignored(
    overlap: OverlapService, store: MemoryStore
) -> None:
    data = RunQueuedData(run_id="run-9", workflow_id="wf-1", workflow_version=1)
    assert await overlap.on_run_event(RunQueuedV1(producer="workflow-engine", data=data)) is False
    assert store.tracked_runs == {}


async def test_slots_are_per_room(policies: PolicyService, store: MemoryStore) -> None:
    draft = PolicyDraft("Any room", "manual", {}, "wf-1", None, True)
    policy_id = (await policies.create(OWNER, draft)).policy.id
    one = await policies.fire_manually(OWNER, policy_id, "room-1", {})
    two = await policies.fire_manually(OWNER, policy_id, "room-2", {})
    again = await policies.fire_manually(OWNER, policy_id, "room-1", {})
    assert [f.outcome for f in (one, two, again)] == ["fired", "fired", "skipped"]


async def test_a_manual_fire_answers_what_the_overlap_rule_decided(
    memory_app: FastAPI, settings: TriggerSettings
) -> None:
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(
        secret, InternalIdentity(user_id="u1", platform_role="teacher"), "trigger"
    )
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://trigger", headers={HEADER: token}
    ) as client:
        created = await client.post(
            "/api/v1/triggers",
            json={"event_type": "manual", "target_workflow_id": "wf-1", "scope_session_id": "r1"},
        )
        fire = f"/api/v1/triggers/{created.json()['id']}/fire"
        first, second = (await client.post(fire)).json(), (await client.post(fire)).json()

    assert (first["outcome"], second["outcome"]) == ("fired", "skipped")


async def test_ended_runs_beyond_the_kept_ones_are_forgotten_after_a_while(
    policies: PolicyService,
    overlap: OverlapService,
    store: MemoryStore,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("coagent_trigger.overlap_service.RUNS_KEPT", 1)
    policy_id = await manual_policy(policies, "skip")
    old = await fire(policies, policy_id)
    await overlap.on_run_event(completed(old, "run-1"))
    clock.now = NOW + ENDED_KEPT / 2
    recent = await fire(policies, policy_id)
    await overlap.on_run_event(completed(recent, "run-2"))
    assert set(store.tracked_runs) == {old.firing_key, recent.firing_key}  # both still ended

    clock.now = NOW + ENDED_KEPT + timedelta(minutes=1)
    last = await fire(policies, policy_id)
    await overlap.on_run_event(completed(last, "run-3"))

    assert set(store.tracked_runs) == {recent.firing_key, last.firing_key}
