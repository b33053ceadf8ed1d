"""Retention settings (validation, permissions, defaults) and the prune pass on memory adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from coagent_chat.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_chat.domain import Actor, InvalidRetention, NewMessage, RetentionPolicy
from coagent_chat.retention import RetentionService
from coagent_chat.service import ChatService
from coagent_chat.settings import ChatSettings
from coagent_contracts.chat import MessagesErasedV1
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

URL = "/internal/rooms/r1/retention"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def client(memory_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://chat") as http:
        yield http


def headers(
    settings: ChatSettings, platform_role: str, resource_role: str | None
) -> dict[str, str]:
    identity = InternalIdentity(
        user_id="u1", platform_role=platform_role, resource_role=resource_role
    )
    secret = settings.internal_token_secret.get_secret_value()
    return {HEADER: sign_identity(secret, identity, audience="chat")}


@pytest.fixture
def teacher(settings: ChatSettings) -> dict[str, str]:
    return headers(settings, "teacher", "teacher")


async def test_a_room_without_a_setting_has_no_limits(
    client: httpx.AsyncClient, teacher: dict[str, str]
) -> None:
    response = await client.get(URL, headers=teacher)

    assert response.status_code == 200
    assert response.json() == {
        "room_id": "r1",
        "max_age_days": None,
        "max_messages": None,
        "effective_max_age_days": None,
        "effective_max_messages": None,
    }


async def test_staff_sets_and_reads_back_the_setting(
    client: httpx.AsyncClient, teacher: dict[str, str]
) -> None:
    put = await client.put(URL, json={"max_age_days": 0.5, "max_messages": 10}, headers=teacher)
    got = await client.get(URL, headers=teacher)
    cleared = await client.put(URL, json={"max_messages": 3}, headers=teacher)

    assert put.status_code == 200
    assert got.json() == put.json()
    assert got.json()["effective_max_age_days"] == 0.5
    assert got.json()["effective_max_messages"] == 10
    # PUT replaces: an omitted limit goes back to the (absent) default.
    assert (cleared.json()["max_age_days"], cleared.json()["max_messages"]) == (None, 3)


@pytest.mark.parametrize(
    "body",
    [
        {"max_age_days": 0},
        {"max_age_days": -1},
        {"max_age_days": 36_501},
        {"max_messages": 0},
        {"max_messages": -5},
        {"max_messages": 1.5},
        {"max_age_days": "soon"},
    ],
)
async def test_invalid_settings_are_422(
    client: httpx.AsyncClient, teacher: dict[str, str], body: dict[str, object]
) -> None:
    response = await client.put(URL, json=body, headers=teacher)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert (await client.get(URL, headers=teacher)).json()["max_messages"] is None


@pytest.mark.parametrize(
    ("platform_role", "resource_role", "status"),
    [
        ("student", "owner", 200),
        ("student", "ta", 200),
        ("admin", None, 200),
        ("super_admin", None, 200),
        ("student", "student", 403),
        ("teacher", None, 403),  # a teacher of another course
    ],
)
async def test_who_may_change_retention(
    client: httpx.AsyncClient,
    settings: ChatSettings,
    platform_role: str,
    resource_role: str | None,
    status: int,
) -> None:
    caller = headers(settings, platform_role, resource_role)

    response = await client.put(URL, json={"max_messages": 5}, headers=caller)

    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "forbidden"
        assert (await client.get(URL, headers=caller)).json()["max_messages"] is None


@pytest.mark.parametrize(
    "kwargs",
    [{"max_age_days": 0.0}, {"max_age_days": 1e9}, {"max_messages": 0}],
)
def test_the_domain_rejects_invalid_policies(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidRetention):
        RetentionPolicy(**kwargs)  # type: ignore[arg-type]


def test_room_limits_override_the_default_one_by_one() -> None:
    default = RetentionPolicy(max_age_days=30, max_messages=1000)

    assert RetentionPolicy(max_messages=5).over(default) == RetentionPolicy(30, 5)
    assert RetentionPolicy().over(default) == default
    assert RetentionPolicy(1, 2).over(RetentionPolicy()) == RetentionPolicy(1, 2)


async def test_the_fleet_default_shows_as_effective(store: MemoryStore) -> None:
    retention = RetentionService(lambda: MemoryUnitOfWork(store), RetentionPolicy(7, None))

    view = await retention.get("r1")

    assert (view.own, view.effective) == (RetentionPolicy(), RetentionPolicy(7, None))


# ------------------------------------------------------------------ pruning


async def seed(store: MemoryStore, service: ChatService, room: str, ages_days: list[float]) -> None:
    """Post one message per age (oldest first), then backdate them."""
    for i, _ in enumerate(ages_days):
        await service.post_message(
            NewMessage(room_id=room, content=f"m{i + 1}", sender_kind="human", sender_id="u1")
        )
    store.messages[room] = [
        replace(m, created_at=NOW - timedelta(days=age))
        for m, age in zip(store.messages[room], ages_days, strict=True)
    ]


def tombstones(store: MemoryStore) -> list[MessagesErasedV1]:
    return [e for e in store.published if isinstance(e, MessagesErasedV1)]


async def test_a_pass_prunes_by_age_and_by_count_in_batches(
    store: MemoryStore, service: ChatService
) -> None:
    retention = RetentionService(lambda: MemoryUnitOfWork(store), batch_size=2, clock=lambda: NOW)
    moderator = Actor("t", "teacher", "teacher")
    await seed(store, service, "aged", [10, 9, 8, 1, 0.5])
    await seed(store, service, "busy", [0.1] * 5)
    await seed(store, service, "free", [100, 100])
    await retention.set("aged", RetentionPolicy(max_age_days=2), moderator)
    await retention.set("busy", RetentionPolicy(max_messages=2), moderator)

    report = await retention.prune_once()

    assert report == {"aged": 3, "busy": 3}
    assert [m.seq for m in store.messages["aged"]] == [4, 5]
    assert [m.seq for m in store.messages["busy"]] == [4, 5]
    assert len(store.messages["free"]) == 2
    erased = tombstones(store)
    assert [(e.data.room_id, e.data.seqs) for e in erased] == [
        ("aged", (1, 2)),
        ("aged", (3,)),
        ("busy", (1, 2)),
        ("busy", (3,)),
    ]
    assert {e.data.reason for e in erased} == {"retention"}
    assert {e.data.forgotten_by for e in erased} == {None}
    assert await retention.prune_once() == {}


async def test_the_default_applies_to_rooms_without_a_setting(
    store: MemoryStore, service: ChatService
) -> None:
    retention = RetentionService(
        lambda: MemoryUnitOfWork(store), RetentionPolicy(max_messages=1), clock=lambda: NOW
    )
    await seed(store, service, "r1", [3, 2, 1])
    await seed(store, service, "r2", [3, 2, 1])
    await retention.set("r2", RetentionPolicy(max_messages=2), Actor("a", "admin"))

    assert await retention.prune_once() == {"r1": 2, "r2": 1}
    assert [m.seq for m in store.messages["r1"]] == [3]
    assert [m.seq for m in store.messages["r2"]] == [2, 3]
