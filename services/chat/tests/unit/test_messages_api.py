"""Idempotent posts, history windows, forgetting and activity through the internal HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from coagent_chat.adapters.memory import MemoryStore
from coagent_chat.service import ChatService
from coagent_chat.settings import ChatSettings
from coagent_contracts.chat import MessagePostedV1, MessagesErasedV1, RoomActivityRecordedV1
from coagent_contracts.workflow import AgentMessageProducedV1
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

Auth = Callable[..., dict[str, str]]
AgentReply = Callable[..., AgentMessageProducedV1]
ROOM = "/internal/rooms/r1"


@pytest.fixture
async def client(memory_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://chat") as http:
        yield http


@pytest.fixture
def as_user(settings: ChatSettings) -> Auth:
    """Headers of a caller: ``as_user("u2", resource_role="teacher")``."""

    def make(
        user_id: str = "u1", platform_role: str = "student", resource_role: str | None = "student"
    ) -> dict[str, str]:
        identity = InternalIdentity(
            user_id=user_id, platform_role=platform_role, resource_role=resource_role
        )
        secret = settings.internal_token_secret.get_secret_value()
        return {HEADER: sign_identity(secret, identity, audience="chat")}

    return make


def posted(store: MemoryStore) -> list[MessagePostedV1]:
    return [e for e in store.published if isinstance(e, MessagePostedV1)]


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> httpx.Response:
    return await client.post(f"{ROOM}/messages", json=body, headers=headers)


# ------------------------------------------------------------------ idempotency


async def test_a_retry_with_the_same_key_returns_the_original_without_an_event(
    client: httpx.AsyncClient, as_user: Auth, store: MemoryStore
) -> None:
    first = await post(client, as_user(), content="hello", client_msg_id="k1")
    events_after_first = len(store.published)
    again = await post(client, as_user(), content="hello", client_msg_id="k1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert first.json()["client_msg_id"] == "k1"
    assert len(store.published) == events_after_first
    assert [m.seq for m in store.messages["r1"]] == [1]


async def test_the_same_key_with_other_content_is_409(
    client: httpx.AsyncClient, as_user: Auth, store: MemoryStore
) -> None:
    await post(client, as_user(), content="hello", client_msg_id="k1")
    clash = await post(client, as_user(), content="something else", client_msg_id="k1")

    assert clash.status_code == 409
    assert clash.json()["code"] == "idempotency_conflict"
    assert [m.body.content for m in store.messages["r1"]] == ["hello"]


async def test_the_header_key_works_and_the_body_key_wins(
    client: httpx.AsyncClient, as_user: Auth, store: MemoryStore
) -> None:
    keyed = {**as_user(), "Idempotency-Key": "h1"}
    first = await post(client, keyed, content="hello")
    again = await post(client, keyed, content="hello")
    body_wins = await post(client, keyed, content="other", client_msg_id="b1")

    assert (first.status_code, again.status_code, body_wins.status_code) == (201, 200, 201)
    assert first.json()["client_msg_id"] == "h1"
    assert body_wins.json()["client_msg_id"] == "b1"
    assert [m.seq for m in store.messages["r1"]] == [1, 2]


async def test_a_retry_does_not_burn_a_seq(client: httpx.AsyncClient, as_user: Auth) -> None:
    await post(client, as_user(), content="a", client_msg_id="k1")
    await post(client, as_user(), content="a", client_msg_id="k1")
    nxt = await post(client, as_user(), content="b")

    assert nxt.json()["seq"] == 2


async def test_keys_are_per_sender(
    client: httpx.AsyncClient, as_user: Auth, store: MemoryStore
) -> None:
    mine = await post(client, as_user("u1"), content="hello", client_msg_id="k1")
    theirs = await post(client, as_user("u2"), content="hello", client_msg_id="k1")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert len(posted(store)) == 2


@pytest.mark.parametrize(
    ("body", "headers"),
    [({"client_msg_id": "x" * 129}, {}), ({}, {"Idempotency-Key": "x" * 129})],
    ids=["body", "header"],
)
async def test_an_oversized_key_is_422(
    client: httpx.AsyncClient,
    as_user: Auth,
    store: MemoryStore,
    body: dict[str, str],
    headers: dict[str, str],
) -> None:
    response = await post(client, {**as_user(), **headers}, content="hello", **body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert store.messages == {}


# ------------------------------------------------------------------ history windows


@pytest.fixture
async def ten(client: httpx.AsyncClient, as_user: Auth) -> None:
    for i in range(1, 11):
        await post(client, as_user(), content=f"m{i}")


@pytest.mark.usefixtures("ten")
@pytest.mark.parametrize(
    ("query", "seqs"),
    [
        ("limit=3", [8, 9, 10]),
        ("", list(range(1, 11))),
        ("after=4&limit=3", [5, 6, 7]),
        ("since=4&limit=3", [5, 6, 7]),
        ("since=0&limit=2", [1, 2]),
        ("before=5&limit=3", [2, 3, 4]),
        ("before=3&limit=5", [1, 2]),
        ("after=2&before=9&limit=3", [3, 4, 5]),  # filling a gap forward from after
        ("after=2&before=9", [3, 4, 5, 6, 7, 8]),
        ("after=10", []),
        ("after=4&since=8", [5, 6, 7, 8, 9, 10]),
    ],
)
async def test_history_windows(
    client: httpx.AsyncClient, as_user: Auth, query: str, seqs: list[int]
) -> None:
    response = await client.get(f"{ROOM}/messages?{query}", headers=as_user())

    assert response.status_code == 200
    assert [m["seq"] for m in response.json()] == seqs


@pytest.mark.usefixtures("ten")
async def test_erased_seqs_leave_holes_and_are_never_reused(
    client: httpx.AsyncClient, as_user: Auth
) -> None:
    history = (await client.get(f"{ROOM}/messages", headers=as_user())).json()
    last = history[-1]
    assert (
        await client.delete(f"{ROOM}/messages/{last['id']}", headers=as_user())
    ).status_code == 204

    nxt = await post(client, as_user(), content="after the erasure")

    assert nxt.json()["seq"] == 11
    window = (await client.get(f"{ROOM}/messages?after=8", headers=as_user())).json()
    assert [m["seq"] for m in window] == [9, 11]


# ------------------------------------------------------------------ forget


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        ({"user_id": "u1"}, 204),  # the sender
        ({"user_id": "u2", "resource_role": "teacher"}, 204),
        ({"user_id": "u2", "resource_role": "ta"}, 204),
        ({"user_id": "u2", "resource_role": "owner"}, 204),
        ({"user_id": "u2", "platform_role": "admin", "resource_role": None}, 204),
        ({"user_id": "u2", "platform_role": "super_admin", "resource_role": None}, 204),
        ({"user_id": "u2"}, 403),  # another student
        ({"user_id": "u2", "platform_role": "teacher", "resource_role": None}, 403),
    ],
)
async def test_who_may_forget_a_message(
    client: httpx.AsyncClient,
    as_user: Auth,
    store: MemoryStore,
    caller: dict[str, str | None],
    status: int,
) -> None:
    message = (await post(client, as_user("u1"), content="regret")).json()

    response = await client.delete(f"{ROOM}/messages/{message['id']}", headers=as_user(**caller))

    assert response.status_code == status
    erased = [e for e in store.published if isinstance(e, MessagesErasedV1)]
    if status == 204:
        assert store.messages["r1"] == []
        assert len(erased) == 1
        assert erased[0].data.message_ids == (message["id"],)
        assert erased[0].data.seqs == (1,)
        assert erased[0].data.reason == "forgotten"
        assert erased[0].data.forgotten_by == caller["user_id"]
    else:
        assert response.json()["code"] == "forbidden"
        assert len(store.messages["r1"]) == 1
        assert erased == []


async def test_an_agent_message_can_only_be_forgotten_by_moderators(
    client: httpx.AsyncClient, as_user: Auth, service: ChatService, agent_reply: AgentReply
) -> None:
    stored = await service.record_agent_message(agent_reply("r1"))
    assert stored is not None

    # The agent's id is its sender id: a user with that id is still not its sender.
    as_agent_id = await client.delete(
        f"{ROOM}/messages/{stored.id}", headers=as_user(stored.body.agent_id)
    )
    teacher = await client.delete(
        f"{ROOM}/messages/{stored.id}", headers=as_user("t", resource_role="teacher")
    )

    assert (as_agent_id.status_code, teacher.status_code) == (403, 204)


async def test_forgetting_an_unknown_message_is_404(
    client: httpx.AsyncClient, as_user: Auth
) -> None:
    message = (await post(client, as_user(), content="hello")).json()

    missing = await client.delete(f"{ROOM}/messages/nope", headers=as_user())
    other_room = await client.delete(
        f"/internal/rooms/r2/messages/{message['id']}", headers=as_user()
    )
    await client.delete(f"{ROOM}/messages/{message['id']}", headers=as_user())
    twice = await client.delete(f"{ROOM}/messages/{message['id']}", headers=as_user())

    for response in (missing, other_room, twice):
        assert response.status_code == 404
        assert response.json()["code"] == "message_not_found"


# ------------------------------------------------------------------ activity


async def test_activity_counts_and_is_published(
    client: httpx.AsyncClient,
    as_user: Auth,
    store: MemoryStore,
    service: ChatService,
    agent_reply: AgentReply,
) -> None:
    missing = await client.get(f"{ROOM}/activity", headers=as_user())
    await post(client, as_user(), content="one")
    await service.record_agent_message(agent_reply("r1"))
    human = await post(client, as_user(), content="three")

    response = await client.get(f"{ROOM}/activity", headers=as_user())

    assert missing.status_code == 404
    assert missing.json()["code"] == "activity_not_found"
    body = response.json()
    assert (body["message_count"], body["human_message_count"], body["agent_message_count"]) == (
        3,
        2,
        1,
    )
    assert (body["last_seq"], body["last_sender_kind"]) == (3, "human")
    assert body["last_human_message_at"] == human.json()["created_at"]
    assert body["last_agent_message_at"] is not None
    recorded = [e for e in store.published if isinstance(e, RoomActivityRecordedV1)]
    assert [e.data.message_count for e in recorded] == [1, 2, 3]
    assert [e.data.last_sender_kind for e in recorded] == ["human", "agent", "human"]
    assert recorded[0].data.last_agent_message_at is None
    # Each activity event is caused by the message event just before it.
    for i, event in enumerate(store.published):
        if isinstance(event, RoomActivityRecordedV1):
            assert event.causation_id == store.published[i - 1].event_id
