"""Global search over community reports: budget, map-reduce, citations, grounding, routing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from coagent_graphrag_query.adapters.extractive import ExtractiveChatModel
from coagent_graphrag_query.answers import Passage
from coagent_graphrag_query.global_search import GlobalLimits, GlobalSearch, report_tokens
from coagent_graphrag_query.ports import ChatModel
from coagent_graphrag_query.retrieval import Retriever
from coagent_graphrag_query.search import GlobalSearchUnavailable, SearchService
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Community, CommunityReport, Finding, Scope, VectorItem

ROOM, OTHER = Scope("room-g"), Scope("room-other")
Stores = tuple[MemoryGraphStore, MemoryVectorIndex]
DIMENSION = 128

DATABASE = CommunityReport(
    "PostgreSQL and Alembic",
    "The team chose PostgreSQL and migrates it with Alembic.",
    (
        Finding("The team chose PostgreSQL as the database.", "", ("m-1",)),
        Finding("Alembic migrations run in continuous integration.", "", ("m-2",), ("a-1",)),
    ),
    8.0,
    ("m-1", "m-2", "a-1"),
)
DEMO = CommunityReport(
    "Demo Day",
    "The demo happens on Friday in room 204.",
    (Finding("The demo is scheduled for Friday afternoon in room 204.", "", ("m-3",)),),
    5.0,
    ("m-3",),
)
TOP = CommunityReport(
    "Whole project", "Everything.", (Finding("The project ships in May.", "", ("m-9",)),), 9.0,
    ("m-9",),
)  # fmt: skip


class Inventing:
    """Cites a real finding for one true sentence and for one it made up."""

    async def answer(self, question: str, passages: Sequence[Passage]) -> str:
        return f"{passages[0].text} [1]. The budget doubled after the audit [1]."


async def seeded(graph: MemoryGraphStore, vectors: MemoryVectorIndex) -> None:
    communities = [
        Community("c0-db", 0, ("postgresql", "alembic"), None, DATABASE),
        Community("c0-demo", 0, ("demo", "friday"), None, DEMO),
        Community("c1-x", 1, ("postgresql", "alembic"), "c0-db", TOP),
        Community("c0-empty", 0, ("bob", "carol"), None, None),
    ]
    await graph.replace_communities(ROOM, communities)
    embedder = FeatureHashingEmbedder(DIMENSION)
    reported = [c for c in communities if c.report]
    texts = [f"{c.report.title}. {c.report.summary}" for c in reported if c.report]
    await vectors.upsert(ROOM, [
        VectorItem(c.id, "community", tuple(v), c.report.source_ids if c.report else (), t)
        for c, v, t in zip(reported, embedder.embed(texts), texts, strict=True)
    ])  # fmt: skip


@pytest.fixture
async def stores() -> Stores:
    graph, vectors = MemoryGraphStore(), MemoryVectorIndex(DIMENSION)
    await seeded(graph, vectors)
    return graph, vectors


def engine(
    stores: Stores,
    model: ChatModel | None = None,
    limits: GlobalLimits | None = None,
) -> GlobalSearch:
    graph, vectors = stores
    embedder = FeatureHashingEmbedder(DIMENSION)
    return GlobalSearch(graph, vectors, embedder, model or ExtractiveChatModel(), limits)


async def test_a_global_answer_cites_the_messages_behind_the_findings(stores: Stores) -> None:
    answer = await engine(stores).answer(ROOM, "When is the demo scheduled?")

    assert answer.mode == "global"
    assert "Friday afternoon" in answer.text
    assert answer.message_ids == ("m-3",)
    assert answer.cited[0].chunk_id == "c0-demo#finding-1"
    # Level 0 is read by default: the level-1 report is not used.
    assert "May" not in answer.text


async def test_another_level_can_be_asked_for(stores: Stores) -> None:
    answer = await engine(stores).answer(ROOM, "When does the project ship?", level=1)
    assert answer.message_ids == ("m-9",)


async def test_the_budget_keeps_only_the_best_ranked_reports(stores: Stores) -> None:
    tight = GlobalLimits(budget_tokens=report_tokens(DATABASE), batch_tokens=10_000)
    answer = await engine(stores, limits=tight).answer(
        ROOM, "What are the main themes?", thematic=True
    )
    # Both reports match nothing in particular; the database one rates higher and fits alone.
    assert set(answer.message_ids) <= {"m-1", "m-2"}
    assert answer.message_ids
    wide = await engine(stores).answer(ROOM, "What are the main themes?", thematic=True)
    assert {"m-1", "m-3"} <= set(wide.message_ids)


async def test_findings_cite_artifacts_apart_from_messages(stores: Stores) -> None:
    answer = await engine(stores).answer(ROOM, "Where do the Alembic migrations run?")
    assert [(p.message_ids, p.artifact_ids) for p in answer.cited] == [(("m-2",), ("a-1",))]


async def test_unsupported_sentences_are_dropped(stores: Stores) -> None:
    answer = await engine(stores, model=Inventing()).answer(ROOM, "What database was chosen?")
    assert "budget" not in answer.text
    assert answer.claims
    assert all(c.passages for c in answer.claims)


async def test_a_room_without_reports_is_409_and_auto_routing_needs_reports(stores: Stores) -> None:
    graph, vectors = stores
    with pytest.raises(GlobalSearchUnavailable) as raised:
        await engine(stores).answer(OTHER, "What are the main themes?")
    assert (raised.value.status, raised.value.code) == (409, "communities_not_built")

    embedder = FeatureHashingEmbedder(DIMENSION)
    search = SearchService(
        Retriever(graph, vectors, embedder), ExtractiveChatModel(), engine(stores)
    )
    assert (await search.ask(ROOM, "Summarize the discussion")).mode == "global"
    assert (await search.ask(OTHER, "Summarize the discussion")).mode == "basic"
