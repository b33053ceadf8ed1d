"""The OpenAI-compatible reporter against a scripted fake server (no network, no model)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from coagent_graphrag_ingest.adapters.openai_reporter import OpenAIReporter, ReportFailed
from coagent_graphrag_ingest.model_choice import reporter
from coagent_graphrag_ingest.reports import Fact, OfflineReporter, ReportInput, finish
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphstore.models import Entity, SourcedText

ADA = Entity("ada", "Ada", "PERSON", (), (SourcedText("m1", "Ada wrote the Leiden step."),))
FACTS = ReportInput(
    "c0-abc", 0, (ADA,),
    (Fact(1, "Ada (PERSON): Ada wrote the Leiden step.", "m1", 1.0),
     Fact(2, "Ada USES Leiden: see the plan", "a1", 2.0)),
)  # fmt: skip


def completion(content: str) -> httpx2.Response:
    return httpx2.Response(200, json={
        "id": "c1", "object": "chat.completion", "created": 0, "model": "small",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    })  # fmt: skip


class FakeServer:
    def __init__(self, *replies: httpx2.Response) -> None:
        self.replies = list(replies)
        self.bodies: list[Any] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(json.loads(request.content))
        return self.replies.pop(0) if self.replies else httpx2.Response(500, json={})

    def reporter(self, retries: int = 2) -> OpenAIReporter:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(self.handle))
        return OpenAIReporter(api_key="k", model="small", base_url="http://fake/v1",
                              max_retries=retries, http_client=client)  # fmt: skip


GOOD = json.dumps({
    "title": "Leiden work", "summary": "Ada implements clustering.", "rating": 7,
    "findings": [{"summary": "Ada wrote the Leiden step.", "facts": [1, 2, 7]},
                 {"summary": "Unsupported.", "facts": [9]}],
})  # fmt: skip


async def test_a_valid_reply_becomes_a_report_citing_messages_and_artifacts() -> None:
    server = FakeServer(completion(GOOD))

    draft = await server.reporter().report(FACTS)
    report = finish(draft, FACTS, "fp", {"a1"})

    sent = json.dumps(server.bodies[0]["messages"])
    assert "[1] Ada (PERSON): Ada wrote the Leiden step." in sent
    assert report.title == "Leiden work"
    assert report.rating == 7
    [finding] = report.findings  # the one citing only an unknown fact is dropped
    assert (finding.message_ids, finding.artifact_ids) == (("m1",), ("a1",))
    assert report.source_ids == ("m1", "a1")


async def test_a_reply_that_does_not_fit_is_repaired_then_a_clear_failure() -> None:
    server = FakeServer(completion('{"summary": "no title"}'), completion(GOOD))
    assert (await server.reporter().report(FACTS)).title == "Leiden work"
    assert len(server.bodies) == 2

    broken = FakeServer(*(completion("not json") for _ in range(3)))
    with pytest.raises(ReportFailed, match="small"):
        await broken.reporter(retries=1).report(FACTS)


def test_the_model_reporter_is_used_only_with_a_key() -> None:
    assert isinstance(reporter(GraphragIngestSettings(env="test")), OfflineReporter)
    keyed = GraphragIngestSettings(
        env="test", llm_api_key=SecretStr("k"), llm_base_url="http://x/v1"
    )
    chosen = reporter(keyed)
    assert isinstance(chosen, OpenAIReporter)
    assert chosen.version != OfflineReporter().version
