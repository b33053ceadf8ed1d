"""Summaries of per-source fragments: made only when the fragments change, counted in calls."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.adapters.offline_extractor import OfflineExtractor
from coagent_graphrag_ingest.pipeline import RoomIngestor
from coagent_graphrag_ingest.service import IngestService
from coagent_graphrag_ingest.summaries import (
    DescriptionSummaries,
    OfflineSummariser,
    SummaryRequest,
    fingerprint,
    offline_summary,
    summary_prompt,
)
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import EntityUpsert, RelationUpsert, Scope

ROOM = Scope("room-s")


class CountingSummariser(OfflineSummariser):
    """The offline summariser, recording every batch (a model call each)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[SummaryRequest]] = []

    async def summarise(self, requests: Sequence[SummaryRequest]) -> list[str | None]:
        self.batches.append(list(requests))
        return await super().summarise(requests)


def test_the_fingerprint_ignores_order_repeats_and_spacing_only() -> None:
    assert fingerprint(["a b", "c"]) == fingerprint(["c", "a  b", "c"])
    assert fingerprint(["a b", "c"]) != fingerprint(["a b", "c", "d"])
    assert fingerprint(["a b"]) != fingerprint(["a c"])


def test_the_offline_summary_keeps_distinct_sentences_within_the_limit() -> None:
    fragments = ["Ada uses Postgres. She likes it.", "Ada uses Postgres.", "Ada teaches SQL."]
    assert offline_summary(fragments) == "Ada uses Postgres. She likes it. Ada teaches SQL."
    assert offline_summary(fragments, max_chars=40) == "Ada uses Postgres. She likes it."
    assert offline_summary(["x" * 50], max_chars=10) == "x" * 10
    assert offline_summary([]) == ""


def test_the_prompt_numbers_items_and_lists_their_distinct_fragments() -> None:
    text = summary_prompt([SummaryRequest("ada", "Ada (PERSON)", ("likes SQL", "likes SQL", "x"))])
    assert "0. Ada (PERSON)\n   - likes SQL\n   - x" in text


async def described(graph: MemoryGraphStore, name: str, *texts: str) -> None:
    await graph.upsert_entities(
        ROOM, [EntityUpsert(name, "CONCEPT", f"m{i}", t) for i, t in enumerate(texts)]
    )


async def test_only_changed_fragments_are_summarised_and_one_text_needs_no_call() -> None:
    graph, summariser = MemoryGraphStore(), CountingSummariser()
    summaries = DescriptionSummaries(graph, summariser)
    await described(graph, "Leiden", "Leiden finds communities.", "Leiden refines Louvain.")
    await described(graph, "Louvain", "Louvain is older.")

    assert await summaries.refresh(ROOM, ["leiden", "louvain"]) == 1
    assert len(summariser.batches) == 1
    leiden, louvain = await graph.entities(ROOM, ["leiden", "louvain"])
    assert leiden.summary is not None
    assert leiden.summary.text == "Leiden finds communities. Leiden refines Louvain."
    assert louvain.summary is not None
    assert louvain.summary.text == "Louvain is older."  # its only text, no call

    # Unchanged fragments (even re-upserted by a replay): no call at all.
    await described(graph, "Leiden", "Leiden finds communities.", "Leiden refines Louvain.")
    assert await summaries.refresh(ROOM, ["leiden", "louvain"]) == 0
    assert len(summariser.batches) == 1

    await graph.upsert_entities(ROOM, [EntityUpsert("Leiden", "CONCEPT", "m7", "It is fast.")])
    assert await summaries.refresh(ROOM, ["leiden", "louvain"]) == 1
    [leiden] = await graph.entities(ROOM, ["leiden"])
    assert leiden.summary is not None
    assert leiden.summary.text.endswith("It is fast.")


async def test_relations_are_summarised_from_their_evidence() -> None:
    graph, summariser = MemoryGraphStore(), CountingSummariser()
    await described(graph, "Ada", "Ada codes.")
    await described(graph, "SQL", "SQL queries.")
    await graph.upsert_relations(ROOM, [
        RelationUpsert("Ada", "SQL", "USES", "m1", "Ada writes SQL."),
        RelationUpsert("Ada", "SQL", "USES", "m2", "Ada tunes SQL."),
    ])  # fmt: skip

    await DescriptionSummaries(graph, summariser).refresh(ROOM, ["ada"])

    [batch] = summariser.batches
    assert [r.subject for r in batch] == ["ada -[USES]-> sql"]
    [uses] = await graph.relations(ROOM, ["ada"])
    assert uses.summary is not None
    assert uses.summary.text == "Ada writes SQL. Ada tunes SQL."


async def test_items_are_summarised_in_batches() -> None:
    graph, summariser = MemoryGraphStore(), CountingSummariser()
    names = [f"Topic{i}" for i in range(7)]
    for name in names:
        await described(graph, name, f"{name} one.", f"{name} two.")

    done = await DescriptionSummaries(graph, summariser, batch=3).refresh(ROOM, names)

    assert done == 7
    assert [len(b) for b in summariser.batches] == [3, 3, 1]  # ceil(7 / 3) calls
    assert len(summariser.batches) == math.ceil(7 / 3)


class Failing(CountingSummariser):
    async def summarise(self, requests: Sequence[SummaryRequest]) -> list[str | None]:
        self.batches.append(list(requests))
        if len(self.batches) == 1:
            raise RuntimeError("model unavailable")
        return [None] + await OfflineSummariser().summarise(requests[1:])


async def test_a_failed_or_missing_summary_is_tried_again_later() -> None:
    graph, summariser = MemoryGraphStore(), Failing()
    summaries = DescriptionSummaries(graph, summariser)
    await described(graph, "Alpha", "Alpha one.", "Alpha two.")
    await described(graph, "Beta", "Beta one.", "Beta two.")

    await summaries.refresh(ROOM, ["alpha", "beta"])  # fails: nothing stored
    assert all(e.summary is None for e in await graph.entities(ROOM, ["alpha", "beta"]))
    await summaries.refresh(ROOM, ["alpha", "beta"])  # the reply leaves out the first item
    alpha, beta = await graph.entities(ROOM, ["alpha", "beta"])
    assert alpha.summary is None
    assert beta.summary is not None
    await summaries.refresh(ROOM, ["alpha", "beta"])
    assert [len(b) for b in summariser.batches] == [2, 2, 1]  # only alpha is asked again


# ----------------------------------------------------------------- through the pipeline
class Room:
    def __init__(self) -> None:
        store = MemoryStore()
        self.uow = lambda: MemoryUnitOfWork(store)
        self.graph = MemoryGraphStore()
        self.summariser = CountingSummariser()
        self.ingestor = RoomIngestor(
            self.uow, self.graph, MemoryVectorIndex(64), FeatureHashingEmbedder(64),
            OfflineExtractor(), max_chars=400, summariser=self.summariser,
        )  # fmt: skip
        self.room = f"room-{uuid.uuid4().hex[:8]}"
        self.seq = 0

    async def post(self, text: str, sender: str = "Ada") -> str:
        self.seq += 1
        mid = f"m-{self.seq}"
        await IngestService(self.uow).record_message(MessagePostedV1(
            producer="chat",
            data=MessagePostedData(
                message_id=mid, room_id=self.room, seq=self.seq, sender_kind="human",
                sender_name=sender, content=text, created_at=datetime.now(UTC),
            ),
        ))  # fmt: skip
        return mid

    @property
    def calls(self) -> int:
        return len(self.summariser.batches)


async def test_reingesting_an_unchanged_room_makes_no_summary_call() -> None:
    room = Room()
    await room.post("Redis caches the sessions. Neo4j stores the graph.")
    await room.post("Grace says Redis is fast. Neo4j runs Leiden.", sender="Grace")
    first = await room.ingestor.ingest(room.room)
    assert first.summarised > 0
    calls = room.calls

    again = await room.ingestor.ingest(room.room)

    assert again.summarised == 0
    assert room.calls == calls
    redis = await room.graph.entity(Scope(room.room), "Redis")
    assert redis is not None
    assert redis.summary is not None
    assert "caches the sessions" in redis.summary.text
    assert "is fast" in redis.summary.text


async def test_forgetting_a_source_removes_its_words_from_the_summary() -> None:
    room = Room()
    kept = await room.post("Redis caches the sessions.")
    gone = await room.post("Redis stores the secret exam answers.", sender="Grace")
    await room.ingestor.ingest(room.room)
    scope = Scope(room.room)
    redis = await room.graph.entity(scope, "Redis")
    assert redis is not None
    assert redis.summary is not None
    assert "secret exam" in redis.summary.text

    await room.ingestor.forget(room.room, [gone])

    redis = await room.graph.entity(scope, "Redis")
    assert redis is not None
    assert redis.source_ids == (kept,)
    assert redis.summary is not None
    assert redis.summary.text == "Redis caches the sessions."
