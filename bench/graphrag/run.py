"""One harness run: generate the corpus, ingest it, re-ingest it, ask every gold question."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from bench._common import percentile
from bench.graphrag.corpus import Corpus, generate
from bench.graphrag.harness import Ingest, Query
from bench.graphrag.metrics import Retrieval, leakage, recall_at_k
from bench.graphrag.stores import StoreKind, open_stores
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphrag_query.search import RequestedMode
from coagent_graphstore.settings import GraphStoreSettings

#: The services' defaults, so the figures describe what a deployment does out of the box.
CHUNK_CHARS: int = GraphragIngestSettings.model_fields["chunk_chars"].default
DIMENSION: int = GraphStoreSettings.model_fields["vector_dimension"].default
MODES: tuple[RequestedMode, ...] = ("basic", "local")


@dataclass(frozen=True, slots=True)
class Config:
    rooms: int = 12
    messages_per_room: int = 400
    facts_per_room: int = 20
    #: Messages per ingest pass of a room (what one debounce window would group).
    batch: int = 25
    ks: tuple[int, ...] = (1, 3, 6)
    store: StoreKind = "falkordb"
    seed: int = 7
    #: Characters per chunk; the service's default unless set (smaller = finer evidence).
    chunk_chars: int = CHUNK_CHARS


QUICK = Config(rooms=4, messages_per_room=80, facts_per_room=8, batch=20)


async def run(config: Config) -> dict[str, Any]:
    """Every figure of one run, as a JSON-ready dictionary."""
    corpus = generate(config.seed, config.rooms, config.messages_per_room, config.facts_per_room)
    async with open_stores(config.store, DIMENSION) as stores:
        ingest = Ingest(stores, config.chunk_chars, DIMENSION)
        ingested = await ingest.run(corpus, config.batch)
        unchanged = await ingest.reingest_unchanged(corpus)
        built = await ingest.build_communities(corpus)
        rebuilt = await ingest.build_communities(corpus)
        graph = await ingest.graph_size(corpus)
        vectors = await ingest.vector_consistency(corpus)
        query = Query(stores, DIMENSION, max(config.ks))
        search = {mode: await evaluate(corpus, query, mode, config.ks) for mode in MODES}
        why_not = await query.global_available(corpus.rooms[0].room_id)
        if why_not is None:
            search["global"] = await evaluate(corpus, query, "global", config.ks)
        else:
            search["global"] = {"skipped": why_not}
        one_more = await ingest.one_new_message(corpus.rooms[0])
    return {
        "config": {**asdict(config), "dimension": DIMENSION},
        "corpus": {
            "rooms": len(corpus.rooms),
            "messages": corpus.messages,
            "gold_facts": len(corpus.facts),
        },  # fmt: skip
        "ingest": ingested,
        "graph": graph,
        "chunk_vectors": vectors,
        "reingest_unchanged": unchanged,
        "communities": built,
        "rebuild_unchanged": {"report_calls": rebuilt["report_calls"]},
        "one_new_message": one_more,
        "search": search,
        "query_model_calls": query.model.calls,
    }


async def evaluate(
    corpus: Corpus, query: Query, mode: RequestedMode, ks: tuple[int, ...]
) -> dict[str, Any]:
    """Recall@k, answer citations, leakage and latency of one mode over every room.

    Each room is asked its own gold questions and those of the next room: the latter have their
    answer in another room, so anything they return from there is leakage.
    """
    ranked: list[Retrieval] = []
    answers: list[Retrieval] = []
    latencies: list[float] = []
    started = time.perf_counter()
    rooms = corpus.rooms
    for index, room in enumerate(rooms):
        foreign = rooms[(index + 1) % len(rooms)].facts if len(rooms) > 1 else ()
        for fact, own in [(f, True) for f in room.facts] + [(f, False) for f in foreign]:
            if mode != "global":  # global search ranks community reports, not passages
                ranked.append(await query.retrieve(room.room_id, fact, mode, own))
            cited, latency = await query.ask(room.room_id, fact, mode, own)
            answers.append(cited)
            latencies.append(latency)
    leaks = leakage(corpus.owner, ranked + answers)
    figures: dict[str, Any] = {
        "questions": sum(1 for a in answers if a.gold is not None),
        "foreign_questions": sum(1 for a in answers if a.gold is None),
        "answer_cites_gold": round(recall_at_k(answers, 1), 3),
        "leaking_results": leaks.leaking_queries,
        "foreign_citations": leaks.foreign_citations,
        "latency_ms_p50_excl_model": round(percentile(latencies, 0.5) * 1000, 2),
        "latency_ms_p99_excl_model": round(percentile(latencies, 0.99) * 1000, 2),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if ranked:
        figures["recall_at_k"] = {str(k): round(recall_at_k(ranked, k), 3) for k in ks}
    return figures
