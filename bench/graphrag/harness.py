"""Drives the real ingest pipeline and query service over a generated corpus and measures them.

Ingest goes the way chat events go in the service: each message becomes a ``MessagePostedV1``
recorded by ``IngestService`` (job and source, in ingest's memory unit of work), and rooms are
ingested by ``RoomIngestor`` in bursts of ``batch`` messages, as the debounce would group them.
Every model port runs its offline implementation (extraction, adjudication, summaries, community
reports, the extractive composer), wrapped to count its calls, and the composer to time them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.graphrag.corpus import Corpus, GoldFact, Message, Room
from bench.graphrag.metrics import Retrieval
from bench.graphrag.stores import Stores
from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.adapters.offline_extractor import OfflineExtractor
from coagent_graphrag_ingest.adjudication import (
    Adjudicator,
    OfflineAdjudicator,
    PairQuestion,
    Verdict,
)
from coagent_graphrag_ingest.chunking import TextChunk
from coagent_graphrag_ingest.community_build import CommunityBuilder
from coagent_graphrag_ingest.extraction import Extraction
from coagent_graphrag_ingest.model_choice import resolution_policy
from coagent_graphrag_ingest.pipeline import RoomIngestor
from coagent_graphrag_ingest.ports import Extractor
from coagent_graphrag_ingest.reports import OfflineReporter, ReportDraft, Reporter, ReportInput
from coagent_graphrag_ingest.service import IngestService
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphrag_ingest.summaries import OfflineSummariser, Summariser, SummaryRequest
from coagent_graphrag_query.adapters.extractive import ExtractiveChatModel
from coagent_graphrag_query.answers import Passage
from coagent_graphrag_query.global_search import GlobalSearch
from coagent_graphrag_query.ports import ChatModel
from coagent_graphrag_query.retrieval import Limits, Retriever
from coagent_graphrag_query.search import GlobalSearchUnavailable, RequestedMode, SearchService
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Scope


class ModelCalls:
    """Calls made at each model port (each is one model call with a configured provider)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, port: str) -> None:
        self.counts[port] = self.counts.get(port, 0) + 1

    def total(self, *ports: str) -> int:
        return sum(n for port, n in self.counts.items() if not ports or port in ports)


class CountingExtractor:
    def __init__(self, inner: Extractor, calls: ModelCalls) -> None:
        self._inner, self._calls = inner, calls

    @property
    def version(self) -> str:
        return self._inner.version

    async def extract(self, chunk: TextChunk) -> Extraction:
        self._calls.add("extract")
        return await self._inner.extract(chunk)


class CountingAdjudicator:
    def __init__(self, inner: Adjudicator, calls: ModelCalls) -> None:
        self._inner, self._calls = inner, calls

    async def decide(self, pairs: Sequence[PairQuestion]) -> list[Verdict]:
        self._calls.add("adjudicate")
        return await self._inner.decide(pairs)


class CountingSummariser:
    def __init__(self, inner: Summariser, calls: ModelCalls) -> None:
        self._inner, self._calls = inner, calls

    async def summarise(self, requests: Sequence[SummaryRequest]) -> list[str | None]:
        self._calls.add("summarise")
        return await self._inner.summarise(requests)


class CountingReporter:
    def __init__(self, inner: Reporter, calls: ModelCalls) -> None:
        self._inner, self._calls = inner, calls

    @property
    def version(self) -> str:
        return self._inner.version

    async def report(self, facts: ReportInput) -> ReportDraft:
        self._calls.add("report")
        return await self._inner.report(facts)


class TimedChatModel:
    """The composer port, counting calls and the time spent in them (model time)."""

    def __init__(self, inner: ChatModel) -> None:
        self._inner = inner
        self.calls = 0
        self.seconds = 0.0

    async def answer(self, question: str, passages: Sequence[Passage]) -> str:
        started = time.perf_counter()
        try:
            return await self._inner.answer(question, passages)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - started


def posted(message: Message) -> MessagePostedV1:
    """The event chat publishes for ``message``."""
    return MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id=message.message_id,
            room_id=message.room_id,
            seq=message.seq,
            sender_kind="agent" if message.sender_kind == "agent" else "human",
            sender_name=message.sender_name,
            agent_type="tutor" if message.sender_kind == "agent" else None,
            content=message.content,
            created_at=message.created_at,
        ),
    )


#: Ingest's settings at their defaults (no key: every model port runs its offline rules).
SETTINGS = GraphragIngestSettings.model_construct()
INGEST_PORTS = ("extract", "adjudicate", "summarise")


@dataclass
class Ingest:
    """Ingest's use cases, wired as its composition root wires them, over the harness's stores
    and ingest's memory unit of work."""

    stores: Stores
    chunk_chars: int
    dimension: int
    ledger: MemoryStore = field(default_factory=MemoryStore)
    calls: ModelCalls = field(default_factory=ModelCalls)

    def __post_init__(self) -> None:
        uow = lambda: MemoryUnitOfWork(self.ledger)  # noqa: E731
        graph, vectors = self.stores.ingest_graph, self.stores.ingest_vectors
        embedder = FeatureHashingEmbedder(self.dimension)
        self.service = IngestService(uow)
        self.ingestor = RoomIngestor(
            uow, graph, vectors, embedder, CountingExtractor(OfflineExtractor(), self.calls),
            max_chars=self.chunk_chars, resolution=resolution_policy(SETTINGS),
            adjudicator=CountingAdjudicator(OfflineAdjudicator(), self.calls),
            summariser=CountingSummariser(OfflineSummariser(), self.calls),
            summary_batch=SETTINGS.summary_batch,
        )  # fmt: skip
        self.communities = CommunityBuilder(
            uow, graph, vectors, embedder, CountingReporter(OfflineReporter(), self.calls),
            max_cluster_size=SETTINGS.community_max_cluster_size,
            report_chars=SETTINGS.report_chars,
        )  # fmt: skip

    async def post(self, messages: Sequence[Message]) -> None:
        for message in messages:
            await self.service.record_message(posted(message))

    async def run(self, corpus: Corpus, batch: int) -> dict[str, Any]:
        """Every room's messages in bursts of ``batch``, a pass after each burst, rooms in turn."""
        passes = errors = 0
        cursors = {r.room_id: 0 for r in corpus.rooms}
        started = time.perf_counter()
        while any(cursors[r.room_id] < len(r.messages) for r in corpus.rooms):
            for room in corpus.rooms:
                at = cursors[room.room_id]
                if at >= len(room.messages):
                    continue
                await self.post(room.messages[at : at + batch])
                cursors[room.room_id] = at + batch
                report = await self.ingestor.ingest(room.room_id)
                passes += 1
                errors += len(report.errors)
        seconds = time.perf_counter() - started
        return {
            "messages": corpus.messages,
            "passes": passes,
            "seconds": round(seconds, 3),
            "messages_per_s": round(corpus.messages / seconds, 1),
            "model_calls": dict(sorted(self.calls.counts.items())),
            "model_calls_per_message": round(self.calls.total() / corpus.messages, 4),
            "extraction_errors": errors,
        }

    async def reingest_unchanged(self, corpus: Corpus) -> dict[str, Any]:
        """A pass over every room with nothing new: the delta keys must make it free."""
        before = self.calls.total()
        started = time.perf_counter()
        for room in corpus.rooms:
            await self.ingestor.ingest(room.room_id)
        return {
            "rooms": len(corpus.rooms),
            "model_calls": self.calls.total() - before,
            "seconds": round(time.perf_counter() - started, 3),
        }

    async def one_new_message(self, room: Room) -> dict[str, Any]:
        """One more message in a built room costs at most one extraction call."""
        last = room.messages[-1]
        extra_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{room.room_id}/one-more"))
        extra = Message(extra_id, room.room_id, last.seq + 1, "human",
                        last.sender_name if last.sender_kind == "human" else "Alice Chen",
                        "Thanks, see you all next week.", last.created_at)  # fmt: skip
        before = dict(self.calls.counts)
        await self.post([extra])
        await self.ingestor.ingest(room.room_id)
        return {port: n - before.get(port, 0) for port, n in self.calls.counts.items()}

    async def build_communities(self, corpus: Corpus) -> dict[str, Any]:
        """Communities and reports of every room (what ``POST …/build`` or the quiet timer runs)."""
        before = self.calls.total("report")
        started = time.perf_counter()
        levels = communities = 0
        for room in corpus.rooms:
            report = await self.communities.refresh(room.room_id)
            levels = max(levels, report.levels)
            communities += report.communities
        return {
            "communities": communities,
            "max_levels": levels,
            "report_calls": self.calls.total("report") - before,
            "seconds": round(time.perf_counter() - started, 3),
        }

    async def vector_consistency(self, corpus: Corpus) -> dict[str, Any]:
        """Share of chunks that a search with their own current text finds first.

        Every chunk's vector is the embedding of its current text, so anything below 1.0 means
        the vector index serves stale or missing vectors for chunks rewritten by later passes.
        """
        embedder = FeatureHashingEmbedder(self.dimension)
        total = found = 0
        for room in corpus.rooms:
            scope = Scope(room.room_id)
            ids = sorted({c for (r, _), c in self.ledger.extractions.items() if r == room.room_id})
            chunks = await self.stores.query_graph.chunks(scope, ids)
            for chunk, vector in zip(chunks, embedder.embed([c.text for c in chunks]),
                                     strict=True):  # fmt: skip
                hits = await self.stores.query_vectors.search(scope, vector, k=1, kinds=["chunk"])
                total += 1
                found += 1 if hits and hits[0].id == chunk.id else 0
        return {"chunks": total, "found_by_own_text": round(found / total, 3) if total else 0.0}

    async def graph_size(self, corpus: Corpus) -> dict[str, int]:
        totals = {"entities": 0, "relations": 0, "chunks": 0, "communities": 0}
        for room in corpus.rooms:
            stats = await self.stores.query_graph.stats(Scope(room.room_id))
            totals["entities"] += stats.entities
            totals["relations"] += stats.relations
            totals["chunks"] += stats.chunks
            totals["communities"] += stats.communities
        return totals


@dataclass
class Query:
    """Query's retrieval (for recall at every k) and its search service (as the API runs it)."""

    stores: Stores
    dimension: int
    max_k: int
    model: TimedChatModel = field(default_factory=lambda: TimedChatModel(ExtractiveChatModel()))

    def __post_init__(self) -> None:
        embedder = FeatureHashingEmbedder(self.dimension)
        graph, vectors = self.stores.query_graph, self.stores.query_vectors
        self.ranker = Retriever(graph, vectors, embedder, Limits(passages=self.max_k))
        # The service answers with its own limits, exactly as graphrag-query wires it.
        self.search = SearchService(
            Retriever(graph, vectors, embedder), self.model,
            GlobalSearch(graph, vectors, embedder, self.model),
        )  # fmt: skip

    async def retrieve(self, room_id: str, fact: GoldFact, mode: str, own: bool) -> Retrieval:
        scope = Scope(room_id)
        if mode == "local":
            found = await self.ranker.local(scope, fact.question)
        else:
            found = await self.ranker.basic(scope, fact.question)
        ranked = tuple(p.message_ids for p in found.passages)
        return Retrieval(room_id, fact.message_id if own else None, ranked)

    async def ask(
        self, room_id: str, fact: GoldFact, mode: RequestedMode, own: bool
    ) -> tuple[Retrieval, float]:
        """The answer's cited messages and the ask's latency without model time."""
        model_before = self.model.seconds
        started = time.perf_counter()
        answer = await self.search.ask(Scope(room_id), fact.question, mode)
        elapsed = time.perf_counter() - started - (self.model.seconds - model_before)
        cited = Retrieval(room_id, fact.message_id if own else None, (answer.message_ids,))
        return cited, elapsed

    async def global_available(self, room_id: str) -> str | None:
        """None when global search answers in this room, else why it does not."""
        try:
            await self.search.ask(Scope(room_id), "What is this room about overall?", "global")
        except GlobalSearchUnavailable as exc:
            return str(exc)
        return None
