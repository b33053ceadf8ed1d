"""``/api/v1/triggers`` over the memory-backed service: shapes, validation, ownership, firing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from coagent_contracts.trigger import TriggerFiredV1
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_trigger.adapters.memory import MemoryStore
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.settings import TriggerSettings

Auth = Callable[[str, str], dict[str, str]]
BASE = "/api/v1/triggers"


@pytest.fixture
async def client(memory_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
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


def body(**overrides: Any) -> dict[str, Any]:
    """What the reference client posts."""
    return {
        "name": "Help desk",
        "event_type": "user_message",
        "conditions": {"keyword": "help"},
        "target_workflow_id": "wf-1",
        "scope_session_id": "room-1",
        "is_active": True,
        **overrides,
    }


async def create(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> Any:
    response = await client.post(BASE, json=body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_returns_the_policy_and_get_reads_it_back(
    client: httpx.AsyncClient, as_user: Auth
) -> None:
    created = await create(client, as_user("u1"))

    assert created["name"] == "Help desk"
    assert created["conditions"] == {"keyword": "help"}
    assert created["scope_session_id"] == "room-1"
    assert created["created_by"] == "u1"
    assert created["signing_secret"] is None
    assert created["created_at"] == created["updated_at"]
    got = await client.get(f"{BASE}/{created['id']}", headers=as_user("u1"))
    assert got.status_code == 200
    assert got.json() == created


async def test_list_has_the_client_fields_and_only_the_callers_policies(
    client: httpx.AsyncClient, as_user: Auth
) -> None:
    mine = await create(client, as_user("u1"))
    theirs = await create(client, as_user("u2"))

    listed = (await client.get(BASE, headers=as_user("u1"))).json()
    assert [p["id"] for p in listed] == [mine["id"]]
    assert {"id", "name", "event_type", "target_workflow_id", "is_active"} <= set(listed[0])

    everything = (await client.get(BASE, headers=as_user("root", "admin"))).json()
    assert [p["id"] for p in everything] == [theirs["id"], mine["id"]]  # newest first


@pytest.mark.parametrize(
    ("method", "suffix", "payload"),
    [
        ("GET", "", None),
        ("PUT", "", {"is_active": False}),
        ("DELETE", "", None),
        ("POST", "/fire", {}),
        ("GET", "/firings", None),
    ],
)
async def test_another_users_policy_is_a_404(
    client: httpx.AsyncClient, as_user: Auth, method: str, suffix: str, payload: Any
) -> None:
    policy = await create(client, as_user("u1"))
    response = await client.request(
        method, f"{BASE}/{policy['id']}{suffix}", json=payload, headers=as_user("u2")
    )
    assert response.status_code == 404
    assert response.json()["code"] == "trigger_not_found"
    # Still there, unchanged, for its owner.
    again = await client.get(f"{BASE}/{policy['id']}", headers=as_user("u1"))
    assert again.json()["is_active"] is True


async def test_an_admin_may_change_anyones_policy(client: httpx.AsyncClient, as_user: Auth) -> None:
    policy = await create(client, as_user("u1"))
    response = await client.put(
        f"{BASE}/{policy['id']}", json={"is_active": False}, headers=as_user("root", "super_admin")
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert response.json()["created_by"] == "u1"


async def test_put_changes_only_the_fields_sent(client: httpx.AsyncClient, as_user: Auth) -> None:
    policy = await create(client, as_user("u1"))

    response = await client.put(
        f"{BASE}/{policy['id']}", json={"is_active": False}, headers=as_user("u1")
    )

    updated = response.json()
    assert response.status_code == 200
    assert updated["is_active"] is False
    unchanged = {k: v for k, v in updated.items() if k not in ("is_active", "updated_at")}
    assert unchanged == {k: v for k, v in policy.items() if k not in ("is_active", "updated_at")}


async def test_put_can_clear_the_scope_back_to_every_room(
    client: httpx.AsyncClient, as_user: Auth
) -> None:
    policy = await create(client, as_user("u1"))
    response = await client.put(
        f"{BASE}/{policy['id']}", json={"scope_session_id": None}, headers=as_user("u1")
    )
    assert response.json()["scope_session_id"] is None
    got = await client.get(f"{BASE}/{policy['id']}", headers=as_user("u1"))
    assert got.json()["scope_session_id"] is None


async def test_put_refuses_null_for_required_fields(
    client: httpx.AsyncClient, as_user: Auth
) -> None:
    policy = await create(client, as_user("u1"))
    response = await client.put(
        f"{BASE}/{policy['id']}", json={"name": None}, headers=as_user("u1")
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_put_revalidates_conditions_against_a_new_event_type(
    client: httpx.AsyncClient, as_user: Auth
) -> None:
    policy = await create(client, as_user("u1"))
    response = await client.put(
        f"{BASE}/{policy['id']}", json={"event_type": "silence"}, headers=as_user("u1")
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "conditions", "keyword"]
    got = await client.get(f"{BASE}/{policy['id']}", headers=as_user("u1"))
    assert got.json()["event_type"] == "user_message"


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"conditions": {"keywords": "help"}}, ["body", "conditions", "keywords"]),
        ({"conditions": {"regex": "(a+)+"}}, ["body", "conditions", "regex"]),
        ({"event_type": "cron", "conditions": {"cron": "nope"}}, ["body", "conditions", "cron"]),
        ({"event_type": "silence", "conditions": {"threshold_mins": 0}}, None),
        ({"event_type": "teleport"}, ["body", "event_type"]),
        ({"target_workflow_id": ""}, ["body", "target_workflow_id"]),
    ],
)
async def test_invalid_policies_are_422_with_loc_and_msg(
    client: httpx.AsyncClient, as_user: Auth, overrides: dict[str, Any], loc: list[str] | None
) -> None:
    response = await client.post(BASE, json=body(**overrides), headers=as_user("u1"))
    assert response.status_code == 422
    answer = response.json()
    assert answer["code"] == "validation_error"
    assert answer["detail"][0]["msg"]
    expected = loc or ["body", "conditions", "threshold_mins"]
    assert answer["detail"][0]["loc"] == expected
    assert (await client.get(BASE, headers=as_user("u1"))).json() == []


async def test_a_webhook_secret_is_shown_once_and_stored_encrypted(
    client: httpx.AsyncClient, as_user: Auth, store: MemoryStore, box: SecretBox
) -> None:
    created = await create(client, as_user("u1"), event_type="webhook", conditions={})

    secret = created["signing_secret"]
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    got = (await client.get(f"{BASE}/{created['id']}", headers=as_user("u1"))).json()
    assert got["signing_secret"] is None
    stored = store.policies[created["id"]].secret_cipher
    assert stored is not None
    assert secret not in stored
    assert box.open(stored) == secret
    renamed = await client.put(f"{BASE}/{created['id']}", json={"name": "x"}, headers=as_user("u1"))
    assert renamed.json()["signing_secret"] is None


async def test_delete_removes_the_policy(client: httpx.AsyncClient, as_user: Auth) -> None:
    policy = await create(client, as_user("u1"))
    response = await client.delete(f"{BASE}/{policy['id']}", headers=as_user("u1"))
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert (await client.get(f"{BASE}/{policy['id']}", headers=as_user("u1"))).status_code == 404


async def test_manual_fire_is_202_logged_and_published(
    client: httpx.AsyncClient, as_user: Auth, store: MemoryStore
) -> None:
    # "allow": the first run never ends here, and the default rule would skip the second firing
    conditions = {"overlap": "allow"}
    policy = await create(client, as_user("u1"), event_type="manual", conditions=conditions)

    response = await client.post(
        f"{BASE}/{policy['id']}/fire", json={"payload": {"topic": "x"}}, headers=as_user("u1")
    )
    second = await client.post(f"{BASE}/{policy['id']}/fire", headers=as_user("u1"))

    assert (response.status_code, second.status_code) == (202, 202)
    accepted = response.json()
    assert accepted["firing_key"].startswith(f"{policy['id']}:event:")
    assert accepted["firing_key"] != second.json()["firing_key"]
    log = (await client.get(f"{BASE}/{policy['id']}/firings", headers=as_user("u1"))).json()
    assert [f["id"] for f in log] == [second.json()["firing_id"], accepted["firing_id"]]
    assert log[1]["outcome"] == "fired"
    assert log[1]["fired_by"] == "u1"
    assert log[1]["room_id"] == "room-1"  # the policy's scope
    events = [e for e in store.published if isinstance(e, TriggerFiredV1)]
    assert [e.msg_id for e in events] == [accepted["firing_key"], second.json()["firing_key"]]
    assert events[0].data.payload["topic"] == "x"
    assert events[0].data.workflow_id == "wf-1"
    assert events[0].data.fired_by == "u1"


async def test_an_inactive_policy_cannot_be_fired(
    client: httpx.AsyncClient, as_user: Auth, store: MemoryStore
) -> None:
    policy = await create(client, as_user("u1"), is_active=False)
    response = await client.post(f"{BASE}/{policy['id']}/fire", headers=as_user("u1"))
    assert (response.status_code, response.json()["code"]) == (409, "trigger_inactive")
    assert store.published == []


async def test_a_scoped_policy_cannot_be_fired_into_another_room(
    client: httpx.AsyncClient, as_user: Auth, store: MemoryStore
) -> None:
    policy = await create(client, as_user("u1"))
    response = await client.post(
        f"{BASE}/{policy['id']}/fire", json={"room_id": "room-2"}, headers=as_user("u1")
    )
    assert (response.status_code, response.json()["code"]) == (422, "room_out_of_scope")
    assert store.published == []


async def test_no_identity_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get(BASE)).status_code == 401
