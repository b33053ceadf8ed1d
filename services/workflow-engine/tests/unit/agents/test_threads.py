"""Sandbox threads: who may talk to which agent, whose keys are spent, limits and history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from coagent_workflow_engine.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_workflow_engine.agents.domain import Agent
from coagent_workflow_engine.agents.endpoints import AgentsApi
from coagent_workflow_engine.llm import ChatModel, ChatRequest, Completion, OfflineChatModel
from coagent_workflow_engine.threads.domain import MAX_MESSAGE_CHARS, RateLimiter
from coagent_workflow_engine.threads.endpoints import router as threads_router
from coagent_workflow_engine.threads.memory import MemoryThreadStore
from coagent_workflow_engine.threads.service import ThreadService

from .agents_kit import KEY, PROJECT, Headers, create

OTHER_PROJECT = "7a0c3a4e-0000-4000-8000-000000000002"
UNKNOWN = "7a0c3a4e-0000-4000-8000-0000000000ff"


class RecordingModel(OfflineChatModel):
    """The offline model, remembering every request it answered."""

    def __init__(self, requests: list[ChatRequest]) -> None:
        super().__init__()
        self._requests = requests

    async def complete(self, request: ChatRequest) -> Completion:
        self._requests.append(request)
        return await super().complete(request)


@dataclass
class Models:
    """A model factory that records the key each call would spend."""

    keys: list[str | None] = field(default_factory=list)
    requests: list[ChatRequest] = field(default_factory=list)

    def __call__(self, agent: Agent, api_key: str | None, tenant: str) -> ChatModel:
        self.keys.append(api_key)
        return RecordingModel(self.requests)


@pytest.fixture
def models() -> Models:
    return Models()


@pytest.fixture
def limiter() -> RateLimiter:
    return RateLimiter(limit=30, window_s=60)


@pytest.fixture
async def http(
    agents_app: FastAPI, store: MemoryStore, api: AgentsApi, models: Models, limiter: RateLimiter
) -> AsyncIterator[httpx.AsyncClient]:
    agents_app.state.threads = ThreadService(
        MemoryThreadStore(),
        lambda: MemoryUnitOfWork(store),
        api.keys,
        models=models,
        limiter=limiter,
    )
    agents_app.include_router(threads_router)
    transport = httpx.ASGITransport(app=agents_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        yield client


async def _thread(
    http: httpx.AsyncClient, headers: dict[str, str], agent_id: str, project: str = PROJECT
) -> dict[str, object]:
    body = {"agent_id": agent_id, "project_id": project, "name": "Try-out"}
    response = await http.post("/api/v1/threads", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_stateless_reply_says_it_is_offline(
    http: httpx.AsyncClient, as_user: Headers
) -> None:
    agent = await create(http, as_user("u1"))
    response = await http.post(
        f"/api/v1/threads/stateless/{agent['id']}",
        json={"message": "What is a prime?"},
        headers=as_user("u1"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reply"].startswith("[offline]")
    assert "What is a prime?" in body["reply"]
    meta = json.loads(body["metadata_json"])
    assert meta["offline"] is True
    assert meta["provider"] == "offline"
    assert meta["agent_id"] == agent["id"]


async def test_other_users_private_agents_are_not_found(
    http: httpx.AsyncClient, as_user: Headers
) -> None:
    agent = await create(http, as_user("u1"))
    for path, body in (
        (f"/api/v1/threads/stateless/{agent['id']}", {"message": "hi"}),
        ("/api/v1/threads", {"agent_id": agent["id"], "project_id": PROJECT}),
        (f"/api/v1/threads/stateless/{UNKNOWN}", {"message": "hi"}),
    ):
        response = await http.post(path, json=body, headers=as_user("u2"))
        assert response.status_code == 404, path
        assert response.json()["code"] == "agent_not_found"
    admin = await http.post(
        f"/api/v1/threads/stateless/{agent['id']}",
        json={"message": "hi"},
        headers=as_user("u9", "admin"),
    )
    assert admin.status_code == 200


async def test_keys_are_spent_only_for_whoever_manages_the_agent(
    http: httpx.AsyncClient, as_user: Headers, models: Models
) -> None:
    template = await create(http, as_user("u1"), project=None, model_provider="openai", api_key=KEY)
    path = f"/api/v1/threads/stateless/{template['id']}"
    mine = await http.post(path, json={"message": "hi"}, headers=as_user("u1"))
    shared = await http.post(path, json={"message": "hi"}, headers=as_user("u2"))
    assert (mine.status_code, shared.status_code) == (200, 200)
    assert models.keys == [KEY, None]


async def test_threads_belong_to_their_owner(http: httpx.AsyncClient, as_user: Headers) -> None:
    agent = await create(http, as_user("u1"))
    thread = await _thread(http, as_user("u1"), str(agent["id"]))
    assert thread["user_id"] == "u1"
    assert thread["name"] == "Try-out"
    assert thread["metadata_json"] == "{}"
    own = await http.get(f"/api/v1/threads/{thread['id']}", headers=as_user("u1"))
    assert own.status_code == 200
    assert own.json()["id"] == thread["id"]
    for method, suffix in (("GET", ""), ("GET", "/messages"), ("POST", "/messages")):
        foreign = await http.request(
            method,
            f"/api/v1/threads/{thread['id']}{suffix}",
            json={"message": "hi"},
            headers=as_user("u2", "admin"),
        )
        assert foreign.status_code == 404, (method, suffix)
        assert foreign.json()["code"] == "thread_not_found"
    listed = await http.get("/api/v1/threads", headers=as_user("u1"))
    assert [t["id"] for t in listed.json()] == [thread["id"]]
    assert (await http.get("/api/v1/threads", headers=as_user("u2"))).json() == []


async def test_a_thread_keeps_its_history_and_the_agent_sees_it(
    http: httpx.AsyncClient, as_user: Headers, models: Models
) -> None:
    agent = await create(http, as_user("u1"), system_prompt="You teach maths.")
    thread = await _thread(http, as_user("u1"), str(agent["id"]))
    path = f"/api/v1/threads/{thread['id']}/messages"
    first = await http.post(
        path, json={"message": "first question", "metadata_json": '{"k": 1}'}, headers=as_user("u1")
    )
    assert first.status_code == 200, first.text
    assert first.json()["role"] == "assistant"
    assert json.loads(first.json()["metadata_json"])["offline"] is True
    await http.post(path, json={"message": "second question"}, headers=as_user("u1"))
    stored = (await http.get(path, headers=as_user("u1"))).json()
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[0]["content"] == "first question"
    assert stored[0]["metadata_json"] == '{"k": 1}'
    assert stored[1]["content"] == first.json()["content"]
    seen = [(m.role, m.content) for m in models.requests[-1].messages]
    assert seen == [
        ("system", "You teach maths."),
        ("user", "first question"),
        ("assistant", first.json()["content"]),
        ("user", "second question"),
    ]


async def test_bad_input_is_refused_with_a_code(http: httpx.AsyncClient, as_user: Headers) -> None:
    agent = await create(http, as_user("u1"))
    thread = await _thread(http, as_user("u1"), str(agent["id"]))
    path = f"/api/v1/threads/{thread['id']}/messages"
    long = await http.post(
        path, json={"message": "x" * (MAX_MESSAGE_CHARS + 1)}, headers=as_user("u1")
    )
    assert long.status_code == 422
    meta = await http.post(
        path, json={"message": "hi", "metadata_json": "[1]"}, headers=as_user("u1")
    )
    assert meta.status_code == 422
    assert meta.json()["code"] == "invalid_metadata_json"
    wrong = await http.post(
        "/api/v1/threads",
        json={"agent_id": agent["id"], "project_id": OTHER_PROJECT},
        headers=as_user("u1"),
    )
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "agent_not_in_project"
    assert (await http.get(path, headers=as_user("u1"))).json() == []


@pytest.mark.parametrize("limiter", [RateLimiter(limit=2, window_s=60)])
async def test_messages_are_rate_limited_per_user(
    http: httpx.AsyncClient, as_user: Headers, limiter: RateLimiter
) -> None:
    agent = await create(http, as_user("u1"))
    path = f"/api/v1/threads/stateless/{agent['id']}"
    codes = [
        (await http.post(path, json={"message": "hi"}, headers=as_user("u1"))).status_code
        for _ in range(2)
    ]
    third = await http.post(path, json={"message": "hi"}, headers=as_user("u1"))
    assert codes == [200, 200]
    assert third.status_code == 429
    assert third.json()["code"] == "thread_rate_limited"
    assert int(third.headers["Retry-After"]) >= 1
    other = await create(http, as_user("u2"), name="Other tutor")
    theirs = await http.post(
        f"/api/v1/threads/stateless/{other['id']}", json={"message": "hi"}, headers=as_user("u2")
    )
    assert theirs.status_code == 200


def test_the_window_slides() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=1, window_s=10, monotonic=lambda: now[0])
    limiter.admit("u1")
    now[0] = 9.5
    with pytest.raises(Exception, match="retry in 1 s"):
        limiter.admit("u1")
    now[0] = 10.5
    limiter.admit("u1")
