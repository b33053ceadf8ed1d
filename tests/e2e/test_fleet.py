"""Whole-fleet behaviour through real processes, servers and HTTP."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from pathlib import Path

import httpx
import pytest

from coagent_cli.fleet import SERVICES, Fleet
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

pytestmark = pytest.mark.e2e


def _identity_headers(fleet: Fleet, audience: str) -> dict[str, str]:
    token = sign_identity(
        fleet.internal_token_secret,
        InternalIdentity(user_id=str(uuid.uuid4()), platform_role="student"),
        audience=audience,
    )
    return {HEADER: token}


def _log_records(path: Path) -> list[dict[str, object]]:
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def _wait_for_log(path: Path, predicate: object, timeout_s: float = 20.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for record in _log_records(path):
            if callable(predicate) and predicate(record):
                return record
        time.sleep(0.2)
    raise AssertionError(f"no matching log line in {path} after {timeout_s}s")


def test_fleet_health_lists_every_service_and_dependency(fleet: Fleet) -> None:
    response = httpx.get(f"{fleet.gateway_url}/api/v1/healthz", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["services"]) == {spec.name for spec in SERVICES}
    assert all(s["status"] == "ok" for s in body["services"].values())
    assert {"postgres", "nats", "redis"} <= set(body["dependencies"])


def test_gateway_serves_openapi_and_docs(fleet: Fleet) -> None:
    docs = httpx.get(f"{fleet.gateway_url}/docs", timeout=10)
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = httpx.get(f"{fleet.gateway_url}/api/v1/openapi.json", timeout=10).json()
    assert "/api/v1/healthz" in spec["paths"]


def test_errors_have_the_fleet_shape(fleet: Fleet) -> None:
    response = httpx.get(f"{fleet.gateway_url}/api/v1/no-such-route", timeout=10)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}


def test_internal_api_requires_a_signed_identity(fleet: Fleet) -> None:
    chat = fleet.config.url(SERVICES[0])
    response = httpx.post(f"{chat}/internal/rooms/r1/messages", json={"content": "hi"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == "identity_missing"
    forged = {
        HEADER: sign_identity(
            "a-wrong-secret-of-at-least-32-bytes",
            InternalIdentity(user_id="u", platform_role="x"),
            "chat",
        )
    }
    response = httpx.post(
        f"{chat}/internal/rooms/r1/messages", json={"content": "hi"}, headers=forged, timeout=10
    )
    assert response.status_code == 401


def test_event_crosses_services_in_one_trace(fleet: Fleet) -> None:
    """chat stores a message → outbox → JetStream → graphrag-ingest records a job, same trace id."""
    trace_id = secrets.token_hex(16)
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    chat = fleet.config.url(SERVICES[0])
    headers = {
        **_identity_headers(fleet, "chat"),
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
    }
    response = httpx.post(
        f"{chat}/internal/rooms/{room_id}/messages",
        json={"content": "Ada proposes the graph schema"},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert response.json()["seq"] == 1

    record = _wait_for_log(
        fleet.log_dir / "graphrag-ingest.log",
        lambda r: r.get("event") == "ingest_job_recorded" and r.get("room_id") == room_id,
    )
    assert record["trace_id"] == trace_id


def test_room_sequence_is_gapless_and_history_resumes(fleet: Fleet) -> None:
    chat = fleet.config.url(SERVICES[0])
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    headers = _identity_headers(fleet, "chat")
    with httpx.Client(timeout=10, headers=headers) as client:
        seqs = [
            client.post(
                f"{chat}/internal/rooms/{room_id}/messages", json={"content": f"m{i}"}
            ).json()["seq"]
            for i in range(5)
        ]
        after_two = client.get(
            f"{chat}/internal/rooms/{room_id}/messages", params={"since": 2}
        ).json()
    assert seqs == [1, 2, 3, 4, 5]
    assert [m["content"] for m in after_two] == ["m2", "m3", "m4"]


def test_consumer_killed_with_sigkill_catches_up_after_restart(fleet: Fleet) -> None:
    """A message posted while graphrag-ingest is down is processed once it is back."""
    fleet.kill("graphrag-ingest")
    chat = fleet.config.url(SERVICES[0])
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    response = httpx.post(
        f"{chat}/internal/rooms/{room_id}/messages",
        json={"content": "posted while ingest is down"},
        headers=_identity_headers(fleet, "chat"),
        timeout=10,
    )
    assert response.status_code == 201
    fleet.restart("graphrag-ingest")
    fleet.wait_ready(timeout_s=60)
    _wait_for_log(
        fleet.log_dir / "graphrag-ingest.log",
        lambda r: r.get("event") == "ingest_job_recorded" and r.get("room_id") == room_id,
    )
