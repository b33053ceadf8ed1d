"""The offline provider is deterministic, streams what it completes and fills any schema."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from coagent_workflow_engine.llm import ChatMessage, ChatRequest, OfflineChatModel, collect
from coagent_workflow_engine.llm.offline import estimate_tokens


def req(text: str, *, system: str = "You are a tutor.", model: str | None = None) -> ChatRequest:
    return ChatRequest(
        messages=[
            ChatMessage(role="system", content=system),
            ChatMessage(role="user", content=text),
        ],
        model=model,
    )


async def test_same_input_same_reply_and_labelled_offline() -> None:
    llm = OfflineChatModel()
    first = await llm.complete(req("What is photosynthesis?"))
    again = await OfflineChatModel().complete(req("What is photosynthesis?"))
    assert first == again
    assert first.offline is True
    assert first.provider == "offline"
    assert first.cost_usd == 0.0
    assert "What is photosynthesis?" in first.text
    assert first.text.startswith("[offline]")
    assert first.metadata()["offline"] is True
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert first.usage.completion_tokens == estimate_tokens(first.text)


async def test_different_input_changes_the_reply() -> None:
    llm = OfflineChatModel()
    texts = {(await llm.complete(req(f"question number {i}"))).text for i in range(6)}
    assert len(texts) == 6


async def test_stream_concatenation_equals_complete() -> None:
    llm = OfflineChatModel()
    request = req("Explain the water cycle in simple words for a ten year old, please.")
    deltas = [d async for d in llm.stream(request)]
    assert len(deltas) > 2
    assert all(d.completion is None for d in deltas[:-1])
    final = deltas[-1].completion
    assert final is not None
    assert "".join(d.text for d in deltas) == final.text
    assert final == await llm.complete(request)
    assert await collect(llm.stream(request)) == final


class Mood(StrEnum):
    HAPPY = "happy"
    SAD = "sad"


class Step(BaseModel):
    title: str
    minutes: int = Field(ge=1, le=30)


class Plan(BaseModel):
    summary: str = Field(min_length=5, max_length=40)
    mood: Mood
    score: float = Field(ge=0, le=1)
    approved: bool
    tags: list[str]
    steps: list[Step] = Field(min_length=1, max_length=3)
    note: str | None = None
    kind: Literal["plan"] = "plan"


async def test_structured_fills_nested_schema_deterministically() -> None:
    llm = OfflineChatModel()
    request = req("Plan a lesson about fractions and decimals")
    value, usage = await llm.structured(request, Plan)
    again, _ = await llm.structured(request, Plan)
    assert value == again
    assert isinstance(value, Plan)
    assert 1 <= len(value.steps) <= 2
    assert 1 <= len(value.tags) <= 2
    assert value.kind == "plan"
    words = {"Plan", "a", "lesson", "about", "fractions", "and", "decimals"}
    assert set(value.steps[0].title.split()) <= words
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0


class Route(BaseModel):
    branch: Literal["approve", "revise", "escalate"]
    reason: str


async def test_router_branch_is_an_allowed_value_and_stable() -> None:
    llm = OfflineChatModel()
    picked = set()
    for i in range(20):
        request = req(f"student proposal number {i}")
        route, _ = await llm.structured(request, Route)
        assert route.branch in {"approve", "revise", "escalate"}
        assert (await llm.structured(request, Route))[0] == route
        picked.add(route.branch)
    assert len(picked) > 1  # hash-picked, not always the first value


@pytest.mark.parametrize("branch", ["approve", "revise", "escalate"])
async def test_router_follows_a_branch_named_in_the_message(branch: str) -> None:
    route, _ = await OfflineChatModel().structured(req(f"I think we should {branch} this."), Route)
    assert route.branch == branch


async def test_model_name_is_reported() -> None:
    completion = await OfflineChatModel().complete(req("hi", model="my-offline"))
    assert completion.model == "my-offline"
