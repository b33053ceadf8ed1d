"""The GraphRAG harness measures what it claims: its metrics on hand-checked cases, its corpus's
gold facts, and a tiny run through the real pipeline on the memory stores."""

from __future__ import annotations

import pytest

from bench.graphrag.corpus import ATTRIBUTES, generate
from bench.graphrag.metrics import Leakage, Retrieval, foreign_ids, leakage, recall_at_k
from bench.graphrag.run import Config, run

OWNER = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}
# Room A asked three own questions (gold at rank 1, at rank 3, not found) and one of room B's.
RETRIEVALS = [
    Retrieval("A", "a1", (("a1", "a2"), ("a3",))),
    Retrieval("A", "a2", (("a3",), ("a1",), ("a2", "a3"))),
    Retrieval("A", "a3", (("a1",),)),
    Retrieval("A", None, (("a2",),)),
]


def test_rank_is_that_of_the_first_passage_holding_the_gold_message() -> None:
    assert [r.rank() for r in RETRIEVALS] == [1, 3, None, None]


@pytest.mark.parametrize(("k", "expected"), [(1, 1 / 3), (2, 1 / 3), (3, 2 / 3), (10, 2 / 3)])
def test_recall_at_k_counts_gold_questions_only(k: int, expected: float) -> None:
    assert recall_at_k(RETRIEVALS, k) == pytest.approx(expected)


def test_recall_refuses_a_k_below_one() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        recall_at_k(RETRIEVALS, 0)


def test_no_foreign_message_means_no_leakage() -> None:
    assert leakage(OWNER, RETRIEVALS) == Leakage(queries=4, leaking_queries=0, foreign_citations=0)


def test_a_message_of_another_room_or_of_no_room_is_a_leak() -> None:
    leaky = [*RETRIEVALS, Retrieval("A", None, (("a1", "b2"), ("zz",))), Retrieval("B", "b1", ())]
    assert foreign_ids(OWNER, "A", ["a1", "b2", "zz"]) == ["b2", "zz"]
    found = leakage(OWNER, leaky)
    assert (found.queries, found.leaking_queries, found.foreign_citations) == (6, 1, 2)


def test_the_corpus_is_reproducible_and_every_gold_message_states_its_fact() -> None:
    corpus = generate(seed=3, rooms=4, messages_per_room=60, facts_per_room=12)
    assert corpus == generate(seed=3, rooms=4, messages_per_room=60, facts_per_room=12)
    assert corpus != generate(seed=4, rooms=4, messages_per_room=60, facts_per_room=12)
    assert corpus.messages == 240
    assert len(corpus.owner) == 240  # ids are unique across rooms
    for room in corpus.rooms:
        texts = {m.message_id: m.content for m in room.messages}
        assert [m.seq for m in room.messages] == list(range(1, 61))
        assert len(room.facts) == 12
        assert len({(f.subject, f.attribute) for f in room.facts}) == 12
        for fact in room.facts:
            assert fact.subject in texts[fact.message_id]
            assert fact.value in texts[fact.message_id]
            assert fact.subject in fact.question
            # No other message of the room states this value about this subject.
            others = [t for i, t in texts.items() if i != fact.message_id]
            assert not [t for t in others if fact.subject in t and fact.value in t]


def test_rooms_ask_the_same_questions_with_different_answers() -> None:
    corpus = generate(seed=7, rooms=12, messages_per_room=100, facts_per_room=20)
    by_question: dict[str, set[tuple[str, str]]] = {}
    for fact in corpus.facts:
        by_question.setdefault(fact.question, set()).add((fact.room_id, fact.value))
    shared = [answers for answers in by_question.values() if len({r for r, _ in answers}) > 1]
    assert shared, "some question must be asked in several rooms"
    assert any(len({v for _, v in answers}) > 1 for answers in shared)


def test_the_generator_refuses_more_facts_than_it_can_place() -> None:
    with pytest.raises(ValueError, match="facts_per_room"):
        generate(seed=1, rooms=1, messages_per_room=5, facts_per_room=6)
    with pytest.raises(ValueError, match="facts_per_room"):
        generate(seed=1, rooms=1, messages_per_room=500, facts_per_room=len(ATTRIBUTES) * 10 + 1)


async def test_a_tiny_run_through_the_real_pipeline() -> None:
    config = Config(rooms=2, messages_per_room=30, facts_per_room=4, batch=10, store="memory",
                    chunk_chars=400)  # fmt: skip
    figures = await run(config)
    ingest = figures["ingest"]
    assert ingest["messages"] == 60
    assert ingest["passes"] == 6
    assert ingest["model_calls"]["extract"] >= figures["graph"]["chunks"] > 0
    assert ingest["extraction_errors"] == 0
    # Every chunk's vector is its current text's (the memory index replaces vectors exactly).
    assert figures["chunk_vectors"] == {"chunks": figures["graph"]["chunks"],
                                        "found_by_own_text": 1.0}  # fmt: skip
    assert figures["reingest_unchanged"]["model_calls"] == 0
    assert figures["one_new_message"]["extract"] == 1
    assert figures["communities"]["report_calls"] > 0
    assert figures["rebuild_unchanged"] == {"report_calls": 0}
    for mode in ("basic", "local"):
        search = figures["search"][mode]
        assert (search["questions"], search["foreign_questions"]) == (8, 8)
        assert (search["leaking_results"], search["foreign_citations"]) == (0, 0)
        recall = search["recall_at_k"]
        assert 0 < recall["1"] <= recall["3"] <= recall["6"] <= 1
    glob = figures["search"]["global"]
    assert (glob["leaking_results"], glob["foreign_citations"]) == (0, 0)
