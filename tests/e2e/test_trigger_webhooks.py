"""A signed webhook through the gateway fires its policy exactly once: one firing, one run."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest

from coagent_cli.fleet import Fleet

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login, one_agent_graph

pytestmark = pytest.mark.e2e


def _signed(secret: str, body: bytes, delivery: str, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json",
        "X-CoAgent-Timestamp": stamp,
        "X-CoAgent-Signature": f"sha256={mac}",
        "X-CoAgent-Delivery": delivery,
    }


def test_a_signed_webhook_produces_exactly_one_run(fleet: Fleet) -> None:
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=fleet.gateway_url, timeout=15) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        course = admin.post("/api/v1/courses/", json={"title": "Hooks", "description": "d"})
        assert course.status_code in (200, 201), course.text
        room = admin.post(
            "/api/v1/rooms/", json={"name": "Hooks", "course_id": course.json()["id"]}
        )
        assert room.status_code in (200, 201), room.text
        agent = admin.post(
            "/api/v1/agents/global",
            json={
                "name": "Deployer",
                "type": "teacher",
                "system_prompt": "Say the build is done.",
                "model_provider": "offline",
            },
        )
        assert agent.status_code == 201, agent.text
        workflow = admin.post(
            "/api/v1/workflows",
            json={"name": f"hook-{suffix}", "graph_data": one_agent_graph(agent.json()["id"])},
        )
        assert workflow.status_code == 201, workflow.text
        workflow_id = workflow.json()["id"]
        policy = admin.post(
            "/api/v1/triggers",
            json={
                "name": "CI finished",
                "event_type": "webhook",
                "conditions": {"overlap": "allow"},
                "target_workflow_id": workflow_id,
                "scope_session_id": room.json()["id"],
            },
        )
        assert policy.status_code == 201, policy.text
        policy_id, secret = policy.json()["id"], policy.json()["signing_secret"]
        assert secret

    hook = f"/api/v1/hooks/{policy_id}"
    body = json.dumps({"build": 42, "status": "green"}).encode()
    delivery = f"ci-{suffix}"
    # No session at all: the signature is the credential.
    with httpx.Client(base_url=fleet.gateway_url, timeout=15) as outside:
        first = outside.post(hook, content=body, headers=_signed(secret, body, delivery))
        again = outside.post(hook, content=body, headers=_signed(secret, body, delivery))
        forged = outside.post(hook, content=body, headers=_signed("whsec_guess", body, "x-1"))
        stale = outside.post(
            hook, content=body, headers=_signed(secret, body, "x-2", at=time.time() - 3600)
        )

    assert first.status_code == 202, first.text
    assert again.status_code == 202, again.text
    assert again.json()["firing_id"] == first.json()["firing_id"]
    assert again.json()["duplicate"] is True
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_signature")
    assert (stale.status_code, stale.json()["code"]) == (401, "stale_timestamp")

    with httpx.Client(base_url=fleet.gateway_url, timeout=15) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)

        def runs() -> list[dict[str, object]]:
            listed = admin.get(f"/api/v1/workflows/{workflow_id}/runs").json()
            assert isinstance(listed, list)
            return listed

        deadline = time.monotonic() + 30
        while not runs() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # a duplicate run, if any, would have appeared by now
        [run] = runs()
        trigger = run["trigger"]
        assert isinstance(trigger, dict)
        assert trigger["policy_id"] == policy_id
        assert trigger["firing_key"] == first.json()["firing_key"]
        log = admin.get(f"/api/v1/triggers/{policy_id}/firings").json()
        assert [f["id"] for f in log] == [first.json()["firing_id"]]
        assert log[0]["detail"]["delivery_id"] == delivery
