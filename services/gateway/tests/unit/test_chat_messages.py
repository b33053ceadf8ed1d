"""HTTP history routes: paging, idempotent posting, forgetting, retention; the owner role.

The chat service is a small fake that records what it was sent (with the verified identity), so
each test can tell what the gateway forwarded — and what it refused before forwarding anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.chat.endpoints import router as gateway_chat_router
from coagent_gateway.chat.rooms import MembershipRoomGuard
from coagent_gateway.chat.service import ChatGateway
from coagent_gateway.policy import Action
from coagent_gateway.settings import GatewaySettings

from ..conftest import SECRET, AuthKit
from .chat_http_kit import NOW, FakeChat, Rooms, login_member
from .membership_kit import course_world


@pytest.fixture
def fake() -> FakeChat:
    return FakeChat()


@pytest.fixture
def rooms() -> Rooms:
    return Rooms()


@pytest.fixture
async def client(
    auth_app: FastAPI, fake: FakeChat, rooms: Rooms
) -> AsyncIterator[httpx.AsyncClient]:
    services = ServiceClient(
        GatewaySettings().service_urls(), SECRET, transport=httpx.ASGITransport(app=fake.app())
    )
    auth_app.state.chat = ChatGateway(services, rooms)
    auth_app.include_router(gateway_chat_router)
    transport = httpx.ASGITransport(app=auth_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
        yield c
    await services.aclose()


# --- history -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "forwarded"),
    [
        ({}, {"limit": "200"}),
        ({"since": 4}, {"after": "4", "limit": "200"}),
        ({"after": 4, "limit": 1000}, {"after": "4", "limit": "1000"}),
        ({"before": 9, "limit": 3}, {"before": "9", "limit": "3"}),
        ({"after": 2, "before": 9}, {"after": "2", "before": "9", "limit": "200"}),
        ({"since": 1, "after": 5}, {"after": "5", "limit": "200"}),
        ({"before": 2**70}, {"before": str(2**63 - 1), "limit": "200"}),
    ],
)
async def test_history_forwards_the_page_it_was_asked_for(
    client: httpx.AsyncClient,
    auth: AuthKit,
    rooms: Rooms,
    fake: FakeChat,
    query: dict[str, int],
    forwarded: dict[str, str],
) -> None:
    await login_member(client, auth, rooms, "student")
    response = await client.get("/api/v1/chat/messages/r1", params=query)
    assert response.status_code == 200
    assert fake.calls[-1]["params"] == forwarded


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 1001}, {"before": 0}, {"after": -1}])
async def test_history_refuses_bad_pages(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat, query: dict[str, int]
) -> None:
    await login_member(client, auth, rooms, "student")
    response = await client.get("/api/v1/chat/messages/r1", params=query)
    assert response.status_code == 422
    assert fake.calls == []


async def test_nothing_lies_before_the_first_message(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, "student")
    response = await client.get("/api/v1/chat/messages/r1", params={"before": 1})
    assert response.json() == []
    assert fake.calls == []


async def test_history_items_name_the_real_agent(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, "student")
    fake.add(
        sender_kind="agent",
        agent_id="ag1",
        agent_type="teacher",
        run_id="run1",
        offline=True,
        stream_id="s1",
    )
    fake.add(sender_kind="agent", agent_id="ag2", sender_name="Socrates")
    teacher, named = (await client.get("/api/v1/chat/messages/r1")).json()
    assert teacher["sender"] == "Teacher AI"
    assert teacher["agent_type"] == "teacher"
    assert teacher["sender_id"] is None
    assert teacher["created_at"] == NOW
    assert teacher["metadata"] == {
        "is_ai": True,
        "sender_id": None,
        "agent_id": "ag1",
        "agent_type": "teacher",
        "run_id": "run1",
        "offline": True,
        "stream_id": "s1",
        "client_msg_id": None,
    }
    assert named["sender"] == "Socrates"
    assert named["agent_type"] == "agent"  # untyped agents still count as AI for the client
    assert named["metadata"]["is_ai"] is True


async def test_outsiders_cannot_read_history(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, None)
    response = await client.get("/api/v1/chat/messages/r1")
    assert response.status_code == 404
    assert fake.calls == []


# --- posting -------------------------------------------------------------------------------


async def test_posting_answers_201_with_the_message_frame(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    user = await login_member(client, auth, rooms, "student")
    body = {"content": "hello", "thread_id": "t1", "mentions": ["ag1"]}
    response = await client.post("/api/v1/chat/messages/r1", json=body)
    assert response.status_code == 201
    frame = response.json()
    assert frame["type"] == "message"
    assert frame["content"] == "hello"
    assert frame["sender"] == "Ada"
    assert frame["metadata"]["sender_id"] == user.id
    assert fake.calls[-1]["body"] == {
        "content": "hello",
        "sender_name": "Ada",
        "thread_id": "t1",
        "mentions": ["ag1"],
    }
    assert fake.calls[-1]["role"] == "student"


async def test_a_retried_post_is_stored_once(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, "student")
    headers = {"Idempotency-Key": "retry-1"}
    first = await client.post("/api/v1/chat/messages/r1", json={"content": "x"}, headers=headers)
    again = await client.post("/api/v1/chat/messages/r1", json={"content": "x"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert fake.calls[-1]["key"] == "retry-1"
    assert len(fake.messages) == 1


async def test_the_client_msg_id_is_forwarded_in_the_body(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, "student")
    body = {"content": "x", "client_msg_id": "c-1"}
    first = await client.post("/api/v1/chat/messages/r1", json=body)
    again = await client.post("/api/v1/chat/messages/r1", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["metadata"]["client_msg_id"] == "c-1"
    assert fake.calls[-1]["body"]["client_msg_id"] == "c-1"
    assert fake.calls[-1]["key"] is None


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"content": ""}, {}),
        ({"content": "x" * 32_001}, {}),
        ({"content": "x", "sender_name": "Someone else"}, {}),
        ({"content": "x", "client_msg_id": "has space"}, {}),
        ({"content": "x"}, {"Idempotency-Key": "k" * 129}),
    ],
)
async def test_bad_posts_are_refused_before_forwarding(
    client: httpx.AsyncClient,
    auth: AuthKit,
    rooms: Rooms,
    fake: FakeChat,
    body: dict[str, Any],
    headers: dict[str, str],
) -> None:
    await login_member(client, auth, rooms, "student")
    response = await client.post("/api/v1/chat/messages/r1", json=body, headers=headers)
    assert response.status_code == 422
    assert fake.calls == []


async def test_the_longest_message_is_accepted(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms
) -> None:
    await login_member(client, auth, rooms, "student")
    response = await client.post("/api/v1/chat/messages/r1", json={"content": "x" * 32_000})
    assert response.status_code == 201


async def test_outsiders_cannot_post(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, None)
    response = await client.post("/api/v1/chat/messages/r1", json={"content": "x"})
    assert response.status_code == 404
    assert fake.calls == []


# --- forgetting ----------------------------------------------------------------------------


async def test_the_sender_forgets_a_message(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    user = await login_member(client, auth, rooms, "student")
    fake.add(sender_id=user.id)
    response = await client.delete("/api/v1/chat/messages/r1/m1")
    assert response.status_code == 204
    assert response.content == b""
    assert fake.messages == []


async def test_chat_decides_who_may_forget_and_what_exists(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, "student")
    fake.add(sender_id="someone-else")
    refused = await client.delete("/api/v1/chat/messages/r1/m1")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    missing = await client.delete("/api/v1/chat/messages/r1/m404")
    assert missing.status_code == 404
    assert missing.json()["code"] == "message_not_found"


async def test_odd_message_ids_are_forwarded_encoded(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, "student")
    response = await client.delete("/api/v1/chat/messages/r1/a%20b%3Fc%25%23")
    assert response.status_code == 404
    assert response.json()["code"] == "message_not_found"
    assert fake.calls[-1]["path"] == "/internal/rooms/r1/messages/a b?c%#"


async def test_outsiders_cannot_forget(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, None)
    assert (await client.delete("/api/v1/chat/messages/r1/m1")).status_code == 404
    assert fake.calls == []


# --- retention -----------------------------------------------------------------------------


async def test_members_read_retention_and_staff_set_it(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, "student", "stu")
    read = await client.get("/api/v1/chat/rooms/r1/retention")
    assert read.json() == {
        "room_id": "r1",
        "max_age_days": None,
        "max_messages": None,
        "effective_max_age_days": 365,
        "effective_max_messages": None,
    }
    refused = await client.put("/api/v1/chat/rooms/r1/retention", json={"max_age_days": 7})
    assert refused.status_code == 403
    assert [c["method"] for c in fake.calls] == ["GET"]

    await login_member(client, auth, rooms, "ta", "tad")
    updated = await client.put(
        "/api/v1/chat/rooms/r1/retention", json={"max_age_days": 0.5, "max_messages": 50}
    )
    assert updated.status_code == 200
    assert updated.json()["max_messages"] == 50
    assert updated.json()["effective_max_age_days"] == 0.5  # fractional days are fine
    assert fake.calls[-1]["body"] == {"max_age_days": 0.5, "max_messages": 50}
    assert fake.calls[-1]["role"] == "ta"


@pytest.mark.parametrize(
    "rule",
    [{"max_age_days": 0}, {"max_messages": -1}, {"max_age_days": 36_501}, {"keep": 1}],
)
async def test_bad_retention_rules_are_refused(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat, rule: dict[str, int]
) -> None:
    await login_member(client, auth, rooms, "ta")
    response = await client.put("/api/v1/chat/rooms/r1/retention", json=rule)
    assert response.status_code == 422
    assert fake.calls == []


def test_the_new_routes_are_documented(auth_app: FastAPI) -> None:
    auth_app.include_router(gateway_chat_router)
    paths = auth_app.openapi()["paths"]
    history = paths["/api/v1/chat/messages/{room_id}"]
    assert {p["name"] for p in history["get"]["parameters"]} >= {
        "since",
        "after",
        "before",
        "limit",
    }
    assert history["post"]["tags"] == ["chat"]
    assert "delete" in paths["/api/v1/chat/messages/{room_id}/{message_id}"]
    assert set(paths["/api/v1/chat/rooms/{room_id}/retention"]) == {"get", "put"}


# --- the owner role ------------------------------------------------------------------------


async def test_the_course_owner_is_forwarded_as_owner(
    settings: GatewaySettings, auth: AuthKit
) -> None:
    """With the real membership check: the owner is "owner", others keep their course role."""
    async with course_world(settings, auth) as w:
        created = await w.as_(w.teacher).post(
            "/api/v1/rooms/", {"name": "Lab", "course_id": w.course_id}
        )
        room_id = created.json()["id"]
        services = ServiceClient(GatewaySettings().service_urls(), SECRET)
        chat = ChatGateway(services, MembershipRoomGuard(w.kit.app.state.rooms))
        roles = {
            name: (await chat.authorize(user, room_id, Action.ROOM_READ)).resource_role
            for name, user in (("teacher", w.teacher), ("ta", w.ta), ("student", w.student))
        }
        admin = await chat.authorize(w.admin, room_id, Action.ROOM_READ)
        await services.aclose()
    assert roles == {"teacher": "owner", "ta": "ta", "student": "student"}
    assert admin.resource_role is None
    assert admin.platform_role == "admin"


async def test_a_dot_dot_message_id_stays_a_message_id(
    client: httpx.AsyncClient, auth: AuthKit, rooms: Rooms, fake: FakeChat
) -> None:
    await login_member(client, auth, rooms, "student")
    response = await client.delete("/api/v1/chat/messages/r1/%2E%2E")
    assert response.json()["code"] == "message_not_found"
    assert fake.calls[-1]["path"] == "/internal/rooms/r1/messages/.."
