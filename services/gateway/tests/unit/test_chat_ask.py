"""The ``ask`` op of the multiplexed socket against a stand-in graphrag-query service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import SecretStr

from coagent_cli.testing import eventually
from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.chat.answers import MAX_ASKS
from coagent_gateway.chat.live import RoomHub
from coagent_gateway.chat.multiplex import MuxSession
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.policy import Action
from coagent_kit.app import build_app
from coagent_kit.auth import Identity, InternalIdentity
from coagent_kit.errors import Forbidden
from coagent_kit.settings import ServiceSettings

from ..conftest import SECRET

USER = User("u1", "ada@example.org", "ada", PlatformRole.STUDENT, full_name="Ada")
CITATION = {"number": 1, "chunk_id": "c1", "message_ids": ["m1"], "artifact_ids": []}


class QuerySettings(ServiceSettings):
    service_name = "graphrag-query"


class Upstream:
    """What the stand-in service saw, and the gate its ``r-gated`` room waits on."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.cancelled = 0


def _ndjson(lines: list[dict[str, Any]]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for line in lines:
            yield (json.dumps(line) + "\n").encode()

    return StreamingResponse(body(), media_type="application/x-ndjson")


def upstream_app(seen: Upstream) -> FastAPI:
    app = build_app(
        QuerySettings(env="test", internal_token_secret=SecretStr(SECRET)), title="query"
    )
    router = APIRouter()

    @router.post("/api/v1/graph/{room_id}/query")
    async def query(room_id: str, request: Request, identity: Identity) -> Response:
        body = await request.json()
        seen.asked.append(
            {"room": room_id, "accept": request.headers.get("accept"), "user": identity.user_id,
             "role": identity.resource_role, **body}
        )  # fmt: skip
        if room_id == "r-gated":
            try:
                await seen.gate.wait()
            finally:
                seen.cancelled += not seen.gate.is_set()
        if room_id == "r-empty":
            return JSONResponse({"detail": "No reports yet", "code": "communities_not_built"}, 409)
        delta = {"type": "answer_delta", "text": "Friday. [1]", "citations": [CITATION]}
        if room_id == "r-broken":
            return _ndjson([delta, {"type": "error", "code": "model_down", "message": "Down"}])
        if room_id == "r-short":
            return _ndjson([delta])
        answer = {"type": "answer", "answer": "Friday. [1]", "found": True, "sources": ["m1"]}
        return _ndjson([delta, {"type": "later_kind"}, answer])

    app.include_router(router)
    return app


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def of(self, rid: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("id") == rid]


class FakeChat:
    async def authorize(self, user: User, room_id: str, action: Action) -> InternalIdentity:
        assert action is Action.ROOM_READ
        if room_id == "r-secret":
            raise Forbidden("Not a member", code="forbidden")
        return InternalIdentity(user_id=user.id, platform_role="student", resource_role="student")


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
async def services(upstream: Upstream) -> AsyncIterator[ServiceClient]:
    transport = httpx.ASGITransport(app=upstream_app(upstream))
    client = ServiceClient({"graphrag-query": "http://query.internal"}, SECRET, transport)
    yield client
    await client.aclose()


@pytest.fixture
async def sockets(
    services: ServiceClient,
) -> AsyncIterator[tuple[MuxSession, FakeSocket, FakeSocket]]:
    hub = RoomHub("nats://unused")
    mine, other = FakeSocket(), FakeSocket()
    session = MuxSession(mine, USER, FakeChat(), hub, services=services)  # type: ignore[arg-type]
    MuxSession(other, USER, FakeChat(), hub, services=services)  # type: ignore[arg-type]
    yield session, mine, other
    await session.close()


async def _ended(socket: FakeSocket, rid: str) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        frames = socket.of(rid)
        return frames if frames and frames[-1]["op"] in ("answer", "error") else None

    return await eventually(probe, f"the end of ask {rid}", 10)


def ask(room: str, rid: str, **extra: Any) -> str:
    return json.dumps(
        {"op": "ask", "topic": f"room:{room}", "question": "When?", "id": rid, **extra}
    )


async def test_deltas_then_the_answer_reach_the_asking_socket_only(
    sockets: tuple[MuxSession, FakeSocket, FakeSocket], upstream: Upstream
) -> None:
    session, mine, other = sockets
    await session.handle(ask("r1", "q1", mode="local"))
    frames = await _ended(mine, "q1")
    assert frames == [
        {"op": "answer_delta", "id": "q1", "topic": "room:r1", "text": "Friday. [1]",
         "citations": [CITATION]},
        {"op": "answer", "id": "q1", "topic": "room:r1", "answer": "Friday. [1]", "found": True,
         "sources": ["m1"]},
    ]  # fmt: skip
    assert other.sent == []
    assert upstream.asked == [
        {"room": "r1", "accept": "application/x-ndjson", "user": "u1", "role": "student",
         "question": "When?", "mode": "local"}
    ]  # fmt: skip
    await eventually(lambda: _now(session.asks.running == 0), "the ask's end", 10)


async def test_refusals_and_upstream_failures_become_error_frames(
    sockets: tuple[MuxSession, FakeSocket, FakeSocket], upstream: Upstream
) -> None:
    session, mine, _ = sockets
    await session.handle(ask("r-secret", "a"))
    await session.handle(ask("r1", "b", question="  "))
    await session.handle(ask("r1", "c", mode="psychic"))
    await session.handle(json.dumps({"op": "ask", "topic": "run:r1", "question": "q", "id": "d"}))
    await session.handle(ask("r-empty", "e"))
    await session.handle(ask("r-broken", "f"))
    await session.handle(ask("r-short", "g"))
    ends = {rid: (await _ended(mine, rid))[-1] for rid in "abcdefg"}
    assert {rid: end["code"] for rid, end in ends.items()} == {
        "a": "forbidden",
        "b": "bad_request",
        "c": "bad_request",
        "d": "unsupported_topic",
        "e": "communities_not_built",
        "f": "model_down",
        "g": "bad_upstream",
    }
    assert ends["e"]["detail"] == "No reports yet"
    assert [m["op"] for m in mine.of("f")] == ["answer_delta", "error"]
    assert sorted(a["room"] for a in upstream.asked) == ["r-broken", "r-empty", "r-short"]


async def test_asks_are_capped_per_socket_and_a_closed_socket_cancels_them(
    sockets: tuple[MuxSession, FakeSocket, FakeSocket], upstream: Upstream
) -> None:
    session, mine, _ = sockets
    for n in range(MAX_ASKS):
        await session.handle(ask("r-gated", f"q{n}"))
    await eventually(lambda: _now(len(upstream.asked) == MAX_ASKS), "asks upstream", 10)
    await session.handle(ask("r1", "over"))
    assert mine.of("over") == [
        {"op": "error", "id": "over", "code": "too_many_asks",
         "detail": f"At most {MAX_ASKS} questions at once on one connection"}
    ]  # fmt: skip
    await session.close()
    assert session.asks.running == 0
    assert upstream.cancelled == MAX_ASKS
    assert [m for m in mine.sent if m["id"] != "over"] == []


async def test_without_the_query_service_ask_is_refused() -> None:
    socket = FakeSocket()
    session = MuxSession(socket, USER, FakeChat(), RoomHub("nats://unused"))  # type: ignore[arg-type]
    await session.handle(ask("r1", "x"))
    assert [(m["id"], m["code"]) for m in socket.sent] == [("x", "unsupported_op")]


async def _now(value: bool) -> bool:
    return value


async def test_a_question_unanswered_in_time_is_given_up(
    sockets: tuple[MuxSession, FakeSocket, FakeSocket], upstream: Upstream
) -> None:
    session, mine, _ = sockets
    session.asks.timeout_s = 0.2
    await session.handle(ask("r-gated", "slow"))
    [end] = await _ended(mine, "slow")
    assert (end["op"], end["code"]) == ("error", "answer_timeout")
    assert upstream.cancelled == 1
    await eventually(lambda: _now(session.asks.running == 0), "the ask's end", 10)
