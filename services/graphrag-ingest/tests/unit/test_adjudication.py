"""The offline adjudicator's conservative rules, the pair prompt and batching."""

from __future__ import annotations

import pytest

from coagent_graphrag_ingest.adjudication import (
    OfflineAdjudicator,
    PairQuestion,
    Side,
    batches,
    offline_verdict,
    pair_prompt,
    side_description,
)


def pair(
    a: str, b: str, about_a: str = "", about_b: str = "", type_: str = "CONCEPT"
) -> PairQuestion:
    return PairQuestion(
        Side(a.casefold(), a, type_, (), about_a), Side(b.casefold(), b, type_, (), about_b), 0.9
    )


def test_an_acronym_of_the_other_name_is_the_same_entity_either_way_round() -> None:
    verdict = offline_verdict(pair("GNN", "Graph Neural Network"))
    assert verdict.decision == "same"
    assert "acronym" in verdict.reason
    assert offline_verdict(pair("Graph Neural Network", "GNN")).decision == "same"
    assert offline_verdict(pair("TDD", "Test Driven Development")).decision == "same"
    assert offline_verdict(pair("NLP", "Natural Language of Processing")).decision == "same"


def test_a_description_calling_it_by_the_other_name_is_the_same_entity() -> None:
    verdict = offline_verdict(
        pair("Bob", "Robert Smith", about_a="Bob, short for Robert Smith, runs the lab.")
    )
    assert verdict.decision == "same"
    assert "description" in verdict.reason
    also = pair("K8s", "Kubernetes", about_b="Kubernetes, also known as K8s, runs the pods.")
    assert offline_verdict(also).decision == "same"


def test_similar_looking_pairs_without_evidence_are_not_merged() -> None:
    # Related, sharing a word, described alike: still not proven to be one thing.
    assert offline_verdict(pair("Graph Database", "Graph Theory")).decision == "unsure"
    assert offline_verdict(pair("Neo4j", "Kafka", "Kafka streams to Neo4j.",
                                "Kafka streams to Neo4j.")).decision == "different"  # fmt: skip
    # A mention without an alias cue is not evidence.
    assert offline_verdict(pair("Bob", "Robert", about_a="Bob met Robert.")).decision != "same"
    # Acronyms need two letters and two words.
    assert offline_verdict(pair("G", "Graph")).decision != "same"
    assert offline_verdict(pair("AB", "Alpha")).decision != "same"


async def test_the_offline_adjudicator_answers_a_batch_in_order_with_one_call() -> None:
    adjudicator = OfflineAdjudicator()
    questions = [pair("GNN", "Graph Neural Network"), pair("Graph Database", "Graph Theory")]

    verdicts = await adjudicator.decide(questions)

    assert [v.decision for v in verdicts] == ["same", "unsure"]
    assert adjudicator.calls == 1


def test_batches_split_in_order_and_reject_a_bad_size() -> None:
    assert [list(b) for b in batches(list(range(7)), 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batches([], 3)) == []
    with pytest.raises(ValueError, match="positive"):
        list(batches([1], 0))


def test_the_pair_prompt_numbers_each_pair_with_both_sides() -> None:
    text = pair_prompt([pair("GNN", "Graph Neural Network", "a model"), pair("A1", "B2")])
    assert "0. GNN [CONCEPT]: a model" in text
    assert "vs Graph Neural Network [CONCEPT]: nothing" in text
    assert "1. A1" in text


def test_side_descriptions_are_distinct_and_short() -> None:
    assert side_description(["a  b", "a  b", " ", "c"]) == "a b c"
    assert len(side_description(["x" * 1000])) == 300
