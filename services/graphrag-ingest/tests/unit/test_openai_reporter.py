"""The OpenAI-compatible reporter against a scripted fake server (no network, no model)."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from coagent_graphrag_ingest.adapters.openai_reporter import OpenAIReporter, ReportFailed
from coagent_graphrag_ingest.model_choice import reporter
from coagent_graphrag_ingest.reports import Fact, OfflineReporter, ReportInput, finish
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphstore.models import Entity, SourcedText

from .fake_openai import FakeServer, completion

ADA = Entity("ada", "Ada", "PERSON", (), (SourcedText("m1", "Ada wrote the Leiden step."),))
FACTS = ReportInput(
    "c0-abc", 0, (ADA,),
    (Fact(1, "Ada (PERSON): Ada wrote the Leiden step.", "m1", 1.0),
     Fact(2, "Ada USES Leiden: see the plan", "a1", 2.0)),
)  # fmt: skip


GOOD = json.dumps({
    "title": "Leiden work", "summary": "Ada implements clustering.", "rating": 7,
    "findings": [{"summary": "Ada wrote the Leiden step.", "facts": [1, 2, 7]},
                 {"summary": "Unsupported.", "facts": [9]}],
})  # fmt: skip


async def test_a_valid_reply_becomes_a_report_citing_messages_and_artifacts() -> None:
    server = FakeServer(completion(GOOD))

    draft = await server.port(OpenAIReporter).report(FACTS)
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
    assert (await server.port(OpenAIReporter).report(FACTS)).title == "Leiden work"
    assert len(server.bodies) == 2

    broken = FakeServer(*(completion("not json") for _ in range(3)))
    with pytest.raises(ReportFailed, match="small"):
        await broken.port(OpenAIReporter, retries=1).report(FACTS)


def test_the_model_reporter_is_used_only_with_a_key() -> None:
    assert isinstance(reporter(GraphragIngestSettings(env="test")), OfflineReporter)
    keyed = GraphragIngestSettings(
        env="test", llm_api_key=SecretStr("k"), llm_base_url="http://x/v1"
    )
    chosen = reporter(keyed)
    assert isinstance(chosen, OpenAIReporter)
    assert chosen.version != OfflineReporter().version
