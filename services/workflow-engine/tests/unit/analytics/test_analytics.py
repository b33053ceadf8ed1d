"""Course analytics: list, queue, background writing with the offline model, and failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_workflow_engine.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_workflow_engine.adapters.memory_analytics import MemoryReportStore
from coagent_workflow_engine.agents.crypto import KeyCipher
from coagent_workflow_engine.agents.routes import build_agents_api
from coagent_workflow_engine.agents.routes import router as agents_router
from coagent_workflow_engine.analytics.domain import AnalyticsReport
from coagent_workflow_engine.analytics.endpoints import router as analytics_router
from coagent_workflow_engine.analytics.service import (
    ABANDONED,
    ABANDONED_AFTER,
    DEFAULT_ANALYTICS_PROMPT,
    NO_MESSAGES,
    AnalyticsService,
)
from coagent_workflow_engine.domain import HistoryMessage
from coagent_workflow_engine.llm import ChatModel, ChatRequest, ProviderUnavailable, model_for
from coagent_workflow_engine.settings import WorkflowEngineSettings

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
URL = "/api/v1/analytics/c1"


class Models:
    """A model factory that records what each call was asked, over the real factory (or fails)."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []
        self.providers: list[str] = []
        self.fail: Exception | None = None
        self.gate: asyncio.Event | None = None

    def __call__(self, provider: str, *args: Any, **kwargs: Any) -> ChatModel:
        self.providers.append(provider)
        inner = model_for(provider, *args, **kwargs)
        outer = self

        class Recording:
            provider = inner.provider
            default_model = inner.default_model

            async def complete(self, request: ChatRequest) -> Any:
                outer.requests.append(request)
                if outer.gate is not None:
                    await outer.gate.wait()
                if outer.fail is not None:
                    raise outer.fail
                return await inner.complete(request)

        return Recording()  # type: ignore[return-value]


def seed_history(store: MemoryStore, room_id: str, *texts: str) -> None:
    store.engine_tables.history[room_id] = [
        HistoryMessage(room_id, f"{room_id}-m{i}", i, "user", "Ada", text, T0 + timedelta(i))
        for i, text in enumerate(texts)
    ]


@pytest.fixture
def models() -> Models:
    return Models()


@pytest.fixture
def analytics(
    store: MemoryStore, clock: Callable[[], datetime], models: Models
) -> AnalyticsService:
    api = build_agents_api(
        lambda: MemoryUnitOfWork(store), KeyCipher([Fernet.generate_key().decode()]), clock
    )
    return AnalyticsService(
        MemoryReportStore(), lambda: MemoryUnitOfWork(store), api, clock=clock, models=models
    )


@pytest.fixture
async def client(
    settings: WorkflowEngineSettings, analytics: AnalyticsService
) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = build_app(settings, title="analytics (memory)")
    app.state.analytics = analytics
    app.state.agents = analytics._agents
    app.include_router(analytics_router)
    app.include_router(agents_router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
        yield http
    await analytics.aclose()


@pytest.fixture
def headers(settings: WorkflowEngineSettings) -> Callable[..., dict[str, str]]:
    secret = settings.internal_token_secret.get_secret_value()

    def make(user_id: str = "t1", role: str = "teacher") -> dict[str, str]:
        identity = InternalIdentity(user_id=user_id, platform_role=role)
        return {HEADER: sign_identity(secret, identity, audience="workflow-engine")}

    return make


async def test_a_generated_report_is_queued_then_written_by_the_offline_model(
    client: httpx.AsyncClient,
    headers: Callable[..., dict[str, str]],
    store: MemoryStore,
    analytics: AnalyticsService,
    models: Models,
) -> None:
    seed_history(store, "r1", "What is a graph?", "Nodes and edges.")
    assert (await client.get(URL, headers=headers())).json() == []

    body = {"room_ids": ["r1", "r-empty"], "room_names": {"r1": "Lecture hall"}}
    queued = await client.post(f"{URL}/generate", json=body, headers=headers())
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "queued"
    await analytics.wait_idle()

    [report] = (await client.get(URL, headers=headers("s1", "student"))).json()
    assert (report["id"], report["status"], report["error"]) == (
        queued.json()["id"],
        "succeeded",
        None,
    )
    assert report["content"].startswith("## Lecture hall\n")
    assert models.providers == ["offline"]  # no analytics agent configured
    [request] = models.requests  # the empty room costs no call
    assert request.messages[0].content == DEFAULT_ANALYTICS_PROMPT
    assert "Ada: What is a graph?" in request.messages[1].content


async def test_the_system_analytics_agents_prompt_is_used(
    client: httpx.AsyncClient,
    headers: Callable[..., dict[str, str]],
    store: MemoryStore,
    analytics: AnalyticsService,
    models: Models,
) -> None:
    agent = {"type": "analytics", "system_prompt": "Count the questions.", "api_key": ""}
    put = await client.put(
        "/api/v1/agents/system/analytics", json=agent, headers=headers("a1", "admin")
    )
    assert put.status_code == 200, put.text
    seed_history(store, "r1", "hello")

    await client.post(f"{URL}/generate", json={"room_ids": ["r1"]}, headers=headers())
    await analytics.wait_idle()

    assert models.requests[0].messages[0].content == "Count the questions."
    assert models.providers == ["gemini"]  # its provider, offline for want of a key
    assert (await client.get(URL, headers=headers())).json()[0]["status"] == "succeeded"


async def test_rooms_without_messages_give_a_report_without_a_model_call(
    client: httpx.AsyncClient,
    headers: Callable[..., dict[str, str]],
    analytics: AnalyticsService,
    models: Models,
) -> None:
    await client.post(f"{URL}/generate", json={"room_ids": ["r9"]}, headers=headers())
    await analytics.wait_idle()

    [report] = (await client.get(URL, headers=headers())).json()
    assert (report["status"], report["content"]) == ("succeeded", NO_MESSAGES)
    assert models.requests == []


async def test_a_failing_model_is_stored_as_a_failed_report_never_as_content(
    client: httpx.AsyncClient,
    headers: Callable[..., dict[str, str]],
    store: MemoryStore,
    analytics: AnalyticsService,
    models: Models,
) -> None:
    seed_history(store, "r1", "hello")
    models.fail = ProviderUnavailable("provider down")

    await client.post(f"{URL}/generate", json={"room_ids": ["r1"]}, headers=headers())
    await analytics.wait_idle()

    [report] = (await client.get(URL, headers=headers())).json()
    assert (report["status"], report["content"]) == ("failed", None)
    assert "provider down" in report["error"]


async def test_one_report_at_a_time_per_course_newest_first_and_cancelled_at_shutdown(
    client: httpx.AsyncClient,
    headers: Callable[..., dict[str, str]],
    store: MemoryStore,
    analytics: AnalyticsService,
    models: Models,
) -> None:
    seed_history(store, "r1", "hello")
    first = await client.post(f"{URL}/generate", json={"room_ids": ["r1"]}, headers=headers())
    await analytics.wait_idle()
    models.gate = asyncio.Event()  # the next report hangs in its model call
    second = await client.post(f"{URL}/generate", json={"room_ids": ["r1"]}, headers=headers())
    again = await client.post(f"{URL}/generate", json={"room_ids": ["r1"]}, headers=headers())
    assert again.json()["id"] == second.json()["id"]  # a double click is not a second report
    await asyncio.sleep(0)

    listed = (await client.get(URL, headers=headers())).json()
    assert [r["id"] for r in listed] == [second.json()["id"], first.json()["id"]]
    assert listed[0] | {"created_at": None} == {
        "id": second.json()["id"],
        "course_id": "c1",
        "content": None,
        "status": "queued",
        "error": None,
        "created_at": None,
    }

    await analytics.aclose()
    stopped = (await client.get(URL, headers=headers())).json()[0]
    assert (stopped["status"], stopped["content"]) == ("failed", None)
    assert stopped["error"].startswith("Cancelled")


async def test_requests_need_the_gateways_identity_and_valid_room_ids(
    client: httpx.AsyncClient, headers: Callable[..., dict[str, str]]
) -> None:
    assert (await client.get(URL)).status_code == 401
    bad = await client.post(f"{URL}/generate", json={"room_ids": ["x" * 65]}, headers=headers())
    assert bad.status_code == 422


async def test_a_report_left_queued_by_a_dead_process_is_listed_as_failed(
    store: MemoryStore,
) -> None:
    # The reports were queued by another process: none of them is being written by this one.
    reports = MemoryReportStore()
    now = [T0]
    history = lambda: MemoryUnitOfWork(store)  # noqa: E731
    agents = build_agents_api(history, KeyCipher([Fernet.generate_key().decode()]), lambda: T0)
    survivor = AnalyticsService(reports, history, agents, clock=lambda: now[0])
    recent = AnalyticsReport(
        id="fresh", course_id="c1", status="queued", created_by="u1", created_at=T0
    )
    stale = replace(recent, id="stale", created_at=T0 - ABANDONED_AFTER)
    for report in (stale, recent):
        await reports.add(report)

    listed = {r.id: r for r in await survivor.of_course("c1")}
    assert listed["fresh"].status == "queued"  # may still be written elsewhere
    assert (listed["stale"].status, listed["stale"].error) == ("failed", ABANDONED)
    now[0] = T0 + ABANDONED_AFTER
    assert {r.status for r in await survivor.of_course("c1")} == {"failed"}
