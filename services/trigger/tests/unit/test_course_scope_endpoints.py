"""``/api/v1/triggers`` with course scopes: shapes, and the answers of a refused scope (memory
adapters, a scripted gateway)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.adapters.memory_rooms import ScriptedAccess
from coagent_trigger.policy_service import PolicyService
from coagent_trigger.secrets_box import SecretBox

from ..conftest import SECRET
from .scope_kit import scripted_access

BASE = "/api/v1/triggers"


@pytest.fixture
def access() -> ScriptedAccess:
    return scripted_access()


@pytest.fixture
def policies(store: MemoryStore, box: SecretBox, access: ScriptedAccess) -> PolicyService:
    """Overrides the shared fixture: this service asks the scripted gateway."""
    return PolicyService(lambda: MemoryUnitOfWork(store), box, access=access)


@pytest.fixture
async def client(memory_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://trigger") as http:
        yield http


def as_user(user_id: str = "teacher-1", role: str = "teacher") -> dict[str, str]:
    identity = InternalIdentity(user_id=user_id, platform_role=role)
    return {HEADER: sign_identity(SECRET, identity, audience="trigger")}


def body(**scope: Any) -> dict[str, Any]:
    return {
        "name": "Course helper",
        "event_type": "user_message",
        "conditions": {"keyword": "help"},
        "target_workflow_id": "wf-1",
        **scope,
    }


async def test_the_course_scope_is_shown_updated_and_cleared(client: httpx.AsyncClient) -> None:
    created = await client.post(BASE, json=body(scope_course_id="c1"), headers=as_user())
    assert created.status_code == 201, created.text
    policy = created.json()
    assert (policy["scope_course_id"], policy["scope_session_id"]) == ("c1", None)
    path = f"{BASE}/{policy['id']}"

    listed = (await client.get(BASE, headers=as_user())).json()
    assert [p["scope_course_id"] for p in listed] == ["c1"]
    moved = await client.put(
        path, json={"scope_course_id": None, "scope_session_id": "A"}, headers=as_user()
    )
    assert (moved.json()["scope_course_id"], moved.json()["scope_session_id"]) == (None, "A")
    back = await client.put(
        path, json={"scope_course_id": "c1", "scope_session_id": ""}, headers=as_user()
    )
    assert (back.json()["scope_course_id"], back.json()["scope_session_id"]) == ("c1", None)
    cleared = await client.put(path, json={"scope_course_id": None}, headers=as_user())
    assert cleared.json()["scope_course_id"] is None
    assert (await client.get(path, headers=as_user())).json()["scope_course_id"] is None


async def test_refused_scopes_answer_with_stable_codes_and_store_nothing(
    client: httpx.AsyncClient, access: ScriptedAccess, store: MemoryStore
) -> None:
    both = await client.post(
        BASE, json=body(scope_session_id="A", scope_course_id="c1"), headers=as_user()
    )
    assert (both.status_code, both.json()["code"]) == (422, "scope_conflict")

    outsider = as_user("outsider")
    for scope in ({"scope_course_id": "c1"}, {"scope_session_id": "A"}):
        refused = await client.post(BASE, json=body(**scope), headers=outsider)
        assert (refused.status_code, refused.json()["code"]) == (403, "scope_forbidden")

    access.down = True
    down = await client.post(BASE, json=body(scope_course_id="c1"), headers=as_user())
    assert (down.status_code, down.json()["code"]) == (503, "gateway_unavailable")
    assert store.policies == {}
