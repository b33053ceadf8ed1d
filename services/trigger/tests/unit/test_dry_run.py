"""Dry runs: replaying messages against a policy decides firings without firing anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from coagent_contracts.chat import MessagePostedData, SenderKind
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity, verify_identity
from coagent_kit.errors import ServiceError
from coagent_trigger.adapters.memory import MemoryStore
from coagent_trigger.dry_run import replay
from coagent_trigger.dry_run_chat import ChatHistory
from coagent_trigger.dry_run_endpoints import router as dry_run_router
from coagent_trigger.policies import Policy
from coagent_trigger.rooms import RoomView
from coagent_trigger.settings import TriggerSettings

from ..conftest import SECRET

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1)


def policy(event_type: str = "user_message", **conditions: Any) -> Policy:
    return Policy(
        id="p1",
        name="p",
        event_type=event_type,  # type: ignore[arg-type]
        conditions=conditions,
        target_workflow_id="wf-1",
        scope_session_id="r1",
        is_active=True,
        created_by="u1",
        created_at=T0,
        updated_at=T0,
    )


def message(
    seq: int, at_s: float, content: str = "help", kind: SenderKind = "human"
) -> MessagePostedData:
    return MessagePostedData(
        message_id=f"m{seq}",
        room_id="r1",
        seq=seq,
        sender_kind=kind,
        sender_id="u1" if kind == "human" else None,
        agent_id="a1" if kind == "agent" else None,
        content=content,
        created_at=T0 + timedelta(seconds=at_s),
    )


def test_every_matching_message_fires_without_debounce() -> None:
    messages = [
        message(1, 0),
        message(2, 10, "hello"),
        message(3, 20),
        message(4, 30, kind="agent"),
    ]
    result = replay(policy(keyword="help"), messages, LATER)
    assert result.replayed == 4
    assert result.matched_message_ids == ["m1", "m3"]
    assert [(f.message_id, f.count, f.fires_at) for f in result.firings] == [
        ("m1", 1, T0),
        ("m3", 2, T0 + timedelta(seconds=20)),
    ]


def test_message_count_fires_every_nth_match() -> None:
    messages = [message(seq, seq) for seq in range(1, 8)]
    result = replay(policy(keyword="help", message_count=3), list(reversed(messages)), LATER)
    assert [(f.message_id, f.count) for f in result.firings] == [("m3", 3), ("m6", 6)]


def test_debounce_coalesces_a_burst_into_one_firing_with_the_last_message() -> None:
    debounce = {"period_s": 10, "max_wait_s": 60}
    burst = [message(seq, seq * 5) for seq in range(1, 6)]  # 5 s apart: one burst
    after = [message(6, 200)]  # long after the burst closed: its own firing
    result = replay(policy(keyword="help", debounce=debounce), burst + after, LATER)
    assert [(f.message_id, f.coalesced, f.count) for f in result.firings] == [
        ("m5", 5, 5),
        ("m6", 1, 6),
    ]
    assert result.firings[0].fires_at == T0 + timedelta(seconds=25 + 10)


def test_max_wait_closes_a_never_ending_burst() -> None:
    debounce = {"period_s": 10, "max_wait_s": 30}
    chatter = [message(seq, seq * 5) for seq in range(0 + 1, 13)]  # every 5 s for a minute
    result = replay(policy(debounce=debounce, sender_kind="any"), chatter, LATER)
    first = result.firings[0]
    assert first.fires_at == T0 + timedelta(seconds=5 + 30)  # first match + max_wait
    assert sum(f.coalesced for f in result.firings) == 12
    assert len(result.firings) == 2


def test_a_burst_still_open_at_now_is_pending() -> None:
    debounce = {"period_s": 10, "max_wait_s": 60}
    now = T0 + timedelta(seconds=3)
    result = replay(policy(debounce=debounce), [message(1, 0), message(2, 2)], now)
    [firing] = result.firings
    assert firing.pending is True
    assert firing.fires_at == T0 + timedelta(seconds=12)


def test_silence_fires_after_each_long_enough_gap_between_human_messages() -> None:
    messages = [
        message(1, 0),
        message(2, 60, kind="agent"),  # agent replies do not break a silence
        message(3, 400),  # 400 s after m1: a 5-minute silence happened
        message(4, 500),  # 100 s: no silence
    ]
    now = T0 + timedelta(seconds=600)  # m4's silence is not over yet
    result = replay(policy("silence", threshold_mins=5), messages, now)
    assert [(f.message_id, f.fires_at, f.pending) for f in result.firings] == [
        ("m1", T0 + timedelta(seconds=300), False),
        ("m4", T0 + timedelta(seconds=800), True),
    ]


@pytest.mark.parametrize("event_type", ["timer", "cron", "webhook", "manual"])
def test_policies_that_do_not_depend_on_messages_cannot_be_dry_run(event_type: str) -> None:
    with pytest.raises(ServiceError) as exc:
        replay(policy(event_type), [message(1, 0)], LATER)
    assert (exc.value.status, exc.value.code) == (422, "dry_run_unsupported")


# ------------------------------------------------------------------ the route


@pytest.fixture
async def client(
    memory_app: FastAPI, settings: TriggerSettings
) -> AsyncIterator[httpx.AsyncClient]:
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(
        secret, InternalIdentity(user_id="u1", platform_role="teacher"), "trigger"
    )
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://trigger", headers={HEADER: token}
    ) as http:
        yield http


def wire(m: MessagePostedData) -> dict[str, Any]:
    return {
        "id": m.message_id,
        "room_id": m.room_id,
        "seq": m.seq,
        "sender_kind": m.sender_kind,
        "sender_id": m.sender_id,
        "content": m.content,
        "mentions": [],
        "created_at": m.created_at.isoformat(),
    }


async def test_the_route_replays_and_writes_nothing(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    created = await client.post(
        "/api/v1/triggers",
        json={
            "event_type": "user_message",
            "conditions": {"keyword": "help"},
            "target_workflow_id": "wf-1",
        },
    )
    policy_id = created.json()["id"]
    messages = [wire(message(1, 0)), wire(message(2, 5, "hi")), wire(message(3, 9))]

    response = await client.post(
        f"/api/v1/triggers/{policy_id}/dry-run", json={"messages": messages}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["replayed"], body["matched_message_ids"]) == (3, ["m1", "m3"])
    assert [f["message_id"] for f in body["firings"]] == ["m1", "m3"]
    assert body["overlap_applied"] is False
    assert (store.published, store.firings, store.counters) == ([], {}, {})


async def test_messages_no_event_could_carry_are_refused_with_422(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/api/v1/triggers",
        json={"event_type": "user_message", "conditions": {}, "target_workflow_id": "wf-1"},
    )
    bad = {**wire(message(1, 0)), "room_id": "room with spaces.*"}

    response = await client.post(
        f"/api/v1/triggers/{created.json()['id']}/dry-run", json={"messages": [bad]}
    )

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"


async def test_the_route_is_owner_only(
    client: httpx.AsyncClient, settings: TriggerSettings
) -> None:
    created = await client.post(
        "/api/v1/triggers",
        json={"event_type": "silence", "conditions": {}, "target_workflow_id": "wf-1"},
    )
    secret = settings.internal_token_secret.get_secret_value()
    other = sign_identity(
        secret, InternalIdentity(user_id="u2", platform_role="teacher"), "trigger"
    )
    response = await client.post(
        f"/api/v1/triggers/{created.json()['id']}/dry-run",
        json={"messages": []},
        headers={HEADER: other},
    )
    assert (response.status_code, response.json()["code"]) == (404, "trigger_not_found")


# ------------------------------------------------------------------ in a room, messages from chat


def chat_stub(messages: list[dict[str, Any]], seen: list[dict[str, Any]]) -> FastAPI:
    """Chat's internal history route: checks the token is for chat, records the query."""
    settings = TriggerSettings(env="test", internal_token_secret=SecretStr(SECRET))
    app = build_app(settings, title="chat")

    @app.get("/internal/rooms/{room_id}/messages")
    async def history(room_id: str, request: Request) -> Any:
        identity = verify_identity(SECRET, request.headers[HEADER], "chat")
        seen.append(
            {"room": room_id, "user": identity.user_id, "limit": request.query_params["limit"]}
        )
        if room_id == "broken":
            return JSONResponse({"detail": "boom", "code": "internal"}, status_code=500)
        return [m for m in messages if m["room_id"] == room_id]

    return app


@pytest.fixture
def chat_seen() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def room_client(
    memory_app: FastAPI, chat_seen: list[dict[str, Any]]
) -> AsyncIterator[httpx.AsyncClient]:
    history = [wire(message(1, 0)), wire(message(2, 5, "hi")), wire(message(3, 9))]
    stub = chat_stub(history, chat_seen)
    memory_app.state.chat_history = ChatHistory(
        "http://chat", SECRET, transport=httpx.ASGITransport(app=stub)
    )
    memory_app.include_router(dry_run_router)
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://trigger") as http:
        yield http
    await memory_app.state.chat_history.aclose()


def as_reader(role: str | None, platform_role: str = "teacher") -> dict[str, str]:
    identity = InternalIdentity(user_id="u1", platform_role=platform_role, resource_role=role)
    return {HEADER: sign_identity(SECRET, identity, "trigger")}


async def room_policy(
    client: httpx.AsyncClient, scope: str | None = "r1", course: str | None = None
) -> str:
    created = await client.post(
        "/api/v1/triggers",
        json={
            "event_type": "user_message",
            "conditions": {"keyword": "help"},
            "target_workflow_id": "wf-1",
            "scope_session_id": scope,
            "scope_course_id": course,
        },
        headers=as_reader(None),
    )
    assert created.status_code == 201, created.text
    policy_id: str = created.json()["id"]
    return policy_id


async def test_a_room_reader_replays_the_rooms_recent_messages_from_chat(
    room_client: httpx.AsyncClient, chat_seen: list[dict[str, Any]], store: MemoryStore
) -> None:
    policy_id = await room_policy(room_client)

    response = await room_client.post(
        f"/api/v1/rooms/r1/triggers/{policy_id}/dry-run?limit=30", headers=as_reader("teacher")
    )

    assert response.status_code == 200, response.text
    assert [f["message_id"] for f in response.json()["firings"]] == ["m1", "m3"]
    assert chat_seen == [{"room": "r1", "user": "u1", "limit": "30"}]
    assert (store.published, store.firings) == ([], {})


async def test_the_room_must_have_been_opened_by_the_gateway(
    room_client: httpx.AsyncClient, chat_seen: list[dict[str, Any]]
) -> None:
    policy_id = await room_policy(room_client)
    path = f"/api/v1/rooms/r1/triggers/{policy_id}/dry-run"

    refused = await room_client.post(path, headers=as_reader(None))
    admin = await room_client.post(path, headers=as_reader(None, platform_role="admin"))

    assert (refused.status_code, refused.json()["code"]) == (403, "room_not_readable")
    assert admin.status_code == 200
    assert len(chat_seen) == 1


async def test_a_policy_of_another_room_and_a_failing_chat(
    room_client: httpx.AsyncClient, chat_seen: list[dict[str, Any]]
) -> None:
    scoped = await room_policy(room_client, scope="r1")
    anywhere = await room_policy(room_client, scope=None)

    other = await room_client.post(
        f"/api/v1/rooms/r2/triggers/{scoped}/dry-run", headers=as_reader("student")
    )
    broken = await room_client.post(
        f"/api/v1/rooms/broken/triggers/{anywhere}/dry-run", headers=as_reader("student")
    )

    assert (other.status_code, other.json()["code"]) == (422, "room_out_of_scope")
    assert (broken.status_code, broken.json()["code"]) == (503, "chat_unavailable")


async def test_a_course_policy_replays_only_rooms_of_its_course(
    room_client: httpx.AsyncClient, chat_seen: list[dict[str, Any]], store: MemoryStore
) -> None:
    for room, course in (("r1", "c1"), ("r2", "c2")):
        store.rooms[room] = RoomView(room, course, None, None, deleted=False, changed_at=T0)
    policy_id = await room_policy(room_client, scope=None, course="c1")

    other = await room_client.post(
        f"/api/v1/rooms/r2/triggers/{policy_id}/dry-run", headers=as_reader("student")
    )
    unknown = await room_client.post(
        f"/api/v1/rooms/r9/triggers/{policy_id}/dry-run", headers=as_reader("student")
    )
    mine = await room_client.post(
        f"/api/v1/rooms/r1/triggers/{policy_id}/dry-run", headers=as_reader("student")
    )

    assert (other.status_code, other.json()["code"]) == (422, "room_out_of_scope")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "room_out_of_scope")
    assert mine.status_code == 200, mine.text
    assert [seen["room"] for seen in chat_seen] == ["r1"]
