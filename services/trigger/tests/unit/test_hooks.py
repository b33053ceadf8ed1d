"""Signed webhook deliveries: signature, replay window, delivery ids, and the HTTP route."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from coagent_contracts.trigger import TriggerFiredV1
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.errors import ServiceError
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.hooks import (
    MAX_BODY_BYTES,
    REPLAY_WINDOW,
    Delivery,
    delivery_source_id,
    sign,
    verify,
)
from coagent_trigger.hooks_endpoints import router as hooks_router
from coagent_trigger.hooks_service import WebhookService
from coagent_trigger.policies import Caller
from coagent_trigger.policy_service import PolicyDraft, PolicyService
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.settings import TriggerSettings

from .clock import Clock

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "whsec_test"


def signed(
    body: bytes, *, at: datetime = NOW, secret: str = SECRET, delivery: str = "d-1"
) -> Delivery:
    stamp = str(int(at.timestamp()))
    return Delivery(body, stamp, sign(secret, stamp, body), delivery)


def code_of(exc: pytest.ExceptionInfo[ServiceError]) -> tuple[int, str]:
    return exc.value.status, exc.value.code


# ------------------------------------------------------------------ signature rules


def test_a_correct_signature_gives_the_delivery_id() -> None:
    assert verify(SECRET, signed(b'{"a": 1}'), NOW) == "d-1"


@pytest.mark.parametrize(
    "delivery",
    [
        signed(b'{"a": 1}', secret="whsec_other"),
        Delivery(b'{"a": 2}', signed(b'{"a": 1}').timestamp, signed(b'{"a": 1}').signature, "d"),
        Delivery(b"{}", None, "sha256=00", "d"),
        Delivery(b"{}", "1", None, "d"),
        Delivery(b"{}", "not-a-number", sign(SECRET, "not-a-number", b"{}"), "d"),
    ],
    ids=["other-secret", "tampered-body", "no-timestamp", "no-signature", "bad-timestamp"],
)
def test_anything_but_the_exact_signed_bytes_is_an_invalid_signature(delivery: Delivery) -> None:
    with pytest.raises(ServiceError) as exc:
        verify(SECRET, delivery, NOW)
    assert code_of(exc) == (401, "invalid_signature")


def test_the_timestamp_is_signed_too() -> None:
    original = signed(b"{}", at=NOW - timedelta(hours=1))
    fresh_stamp = str(int(NOW.timestamp()))
    replayed = Delivery(original.body, fresh_stamp, original.signature, "d-1")
    with pytest.raises(ServiceError) as exc:
        verify(SECRET, replayed, NOW)
    assert code_of(exc) == (401, "invalid_signature")


@pytest.mark.parametrize(
    "offset", [REPLAY_WINDOW + timedelta(seconds=1), -REPLAY_WINDOW - timedelta(seconds=1)]
)
def test_a_timestamp_outside_the_replay_window_is_stale(offset: timedelta) -> None:
    with pytest.raises(ServiceError) as exc:
        verify(SECRET, signed(b"{}", at=NOW - offset), NOW)
    assert code_of(exc) == (401, "stale_timestamp")


def test_a_timestamp_inside_the_window_is_accepted_either_way() -> None:
    edge = REPLAY_WINDOW - timedelta(seconds=1)
    assert verify(SECRET, signed(b"{}", at=NOW - edge), NOW) == "d-1"
    assert verify(SECRET, signed(b"{}", at=NOW + edge), NOW) == "d-1"


@pytest.mark.parametrize("delivery", [None, "", "has space", "x" * 129, "é"])
def test_the_delivery_id_must_be_short_printable_ascii(delivery: str | None) -> None:
    good = signed(b"{}")
    with pytest.raises(ServiceError) as exc:
        verify(SECRET, Delivery(good.body, good.timestamp, good.signature, delivery), NOW)
    assert code_of(exc) == (400, "invalid_delivery_id")


def test_source_ids_are_deterministic_per_policy_and_fit_the_log() -> None:
    first = delivery_source_id("p1", "d" * 128)
    assert first == delivery_source_id("p1", "d" * 128)
    assert first != delivery_source_id("p2", "d" * 128)
    assert len(first) <= 64


# ------------------------------------------------------------------ the route


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def hooks_app(
    settings: TriggerSettings, store: MemoryStore, box: SecretBox, clock: Clock
) -> FastAPI:
    app = build_app(settings, title="trigger hooks (memory)")
    app.state.hooks = WebhookService(lambda: MemoryUnitOfWork(store), box, clock)
    app.include_router(hooks_router)
    return app


@pytest.fixture
async def client(hooks_app: FastAPI, settings: TriggerSettings) -> AsyncIterator[httpx.AsyncClient]:
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(
        secret, InternalIdentity(user_id="webhook", platform_role="guest"), "trigger"
    )
    transport = httpx.ASGITransport(app=hooks_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://trigger", headers={HEADER: token}
    ) as http:
        yield http


async def webhook(
    policies: PolicyService, *, event_type: str = "webhook", active: bool = True, **conditions: str
) -> tuple[str, str]:
    draft = PolicyDraft(
        name="Deploys",
        event_type=event_type,  # type: ignore[arg-type]
        conditions=dict(conditions),
        target_workflow_id="wf-1",
        scope_session_id="room-1",
        is_active=active,
    )
    saved = await policies.create(Caller("owner", "teacher"), draft)
    return saved.policy.id, saved.signing_secret or ""


def headers(delivery: Delivery) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "X-CoAgent-Timestamp": delivery.timestamp or "",
        "X-CoAgent-Signature": delivery.signature or "",
        "X-CoAgent-Delivery": delivery.delivery_id or "",
    }


async def post(client: httpx.AsyncClient, policy_id: str, delivery: Delivery) -> httpx.Response:
    return await client.post(
        f"/api/v1/hooks/{policy_id}", content=delivery.body, headers=headers(delivery)
    )


def fired(store: MemoryStore) -> list[TriggerFiredV1]:
    return [e for e in store.published if isinstance(e, TriggerFiredV1)]


async def test_a_signed_delivery_fires_once_with_its_body(
    client: httpx.AsyncClient, policies: PolicyService, store: MemoryStore
) -> None:
    policy_id, secret = await webhook(policies)
    body = json.dumps({"ref": "main"}).encode()

    response = await post(client, policy_id, signed(body, secret=secret, delivery="gh-42"))

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert (accepted["outcome"], accepted["duplicate"]) == ("fired", False)
    [event] = fired(store)
    assert event.data.firing_key == accepted["firing_key"]
    assert event.data.room_id == "room-1"
    assert event.data.payload["body"] == {"ref": "main"}
    assert event.data.payload["delivery_id"] == "gh-42"
    # The engine starts the run only if the policy's owner may run the workflow.
    assert (event.data.owner_id, event.data.owner_role) == ("owner", "teacher")
    assert store.firings[accepted["firing_key"]].id == accepted["firing_id"]


async def test_a_repeated_delivery_answers_the_same_firing_and_fires_nothing(
    client: httpx.AsyncClient, policies: PolicyService, store: MemoryStore, clock: Clock
) -> None:
    policy_id, secret = await webhook(policies)
    first = await post(client, policy_id, signed(b"{}", secret=secret, delivery="d-7"))
    clock.now = NOW + timedelta(minutes=1)  # a retry, re-signed with a new timestamp
    again = await post(
        client, policy_id, signed(b"{}", at=clock.now, secret=secret, delivery="d-7")
    )
    other = await post(
        client, policy_id, signed(b"{}", at=clock.now, secret=secret, delivery="d-8")
    )

    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 202)
    assert again.json()["firing_id"] == first.json()["firing_id"]
    assert again.json()["duplicate"] is True
    assert other.json()["firing_id"] != first.json()["firing_id"]
    assert len(fired(store)) == 1  # d-8 met d-7's run still going: skipped by overlap
    assert other.json()["outcome"] == "skipped"
    assert len(store.firings) == 2


@pytest.mark.parametrize(
    ("tamper", "status", "code"),
    [
        ("signature", 401, "invalid_signature"),
        ("stale", 401, "stale_timestamp"),
        ("delivery", 400, "invalid_delivery_id"),
    ],
)
async def test_bad_deliveries_are_refused_and_fire_nothing(
    client: httpx.AsyncClient,
    policies: PolicyService,
    store: MemoryStore,
    tamper: str,
    status: int,
    code: str,
) -> None:
    policy_id, secret = await webhook(policies)
    good = signed(b"{}", secret=secret)
    delivery = {
        "signature": signed(b"{}", secret="whsec_wrong"),
        "stale": signed(b"{}", at=NOW - timedelta(minutes=6), secret=secret),
        "delivery": Delivery(good.body, good.timestamp, good.signature, None),
    }[tamper]

    response = await post(client, policy_id, delivery)

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert (fired(store), store.firings) == ([], {})


async def test_unknown_non_webhook_and_inactive_policies(
    client: httpx.AsyncClient, policies: PolicyService, store: MemoryStore
) -> None:
    manual_id, _ = await webhook(policies, event_type="manual")
    off_id, off_secret = await webhook(policies, active=False)

    unknown = await post(client, "nope", signed(b"{}"))
    manual = await post(client, manual_id, signed(b"{}"))
    off = await post(client, off_id, signed(b"{}", secret=off_secret))
    off_unsigned = await post(client, off_id, signed(b"{}", secret="whsec_guess"))

    assert (unknown.status_code, unknown.json()["code"]) == (404, "trigger_not_found")
    assert (manual.status_code, manual.json()["code"]) == (404, "trigger_not_found")
    assert (off.status_code, off.json()["code"]) == (409, "trigger_inactive")
    # Only a correctly signed caller learns the policy is off.
    assert (off_unsigned.status_code, off_unsigned.json()["code"]) == (401, "invalid_signature")
    assert fired(store) == []


async def test_a_body_above_the_cap_is_413(
    client: httpx.AsyncClient, policies: PolicyService
) -> None:
    policy_id, secret = await webhook(policies)
    response = await post(client, policy_id, signed(b"x" * (MAX_BODY_BYTES + 1), secret=secret))
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")


async def test_a_non_json_body_reaches_the_run_as_text(
    client: httpx.AsyncClient, policies: PolicyService, store: MemoryStore
) -> None:
    policy_id, secret = await webhook(policies)
    delivery = signed(b"plain words", secret=secret)
    response = await client.post(
        f"/api/v1/hooks/{policy_id}",
        content=delivery.body,
        headers={**headers(delivery), "content-type": "text/plain"},
    )
    assert response.status_code == 202
    assert fired(store)[0].data.payload["body"] == "plain words"
