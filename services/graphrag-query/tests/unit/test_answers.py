"""Citation grounding and the offline extractive composer."""

from __future__ import annotations

from coagent_graphrag_query.adapters.extractive import ExtractiveChatModel
from coagent_graphrag_query.answers import Passage, ground, split_claims, supports

DB = Passage(1, "c1", "We decided the database will be PostgreSQL. Lunch is at noon.", 0.9, ("m1",))
DEMO = Passage(2, "c2", "The demo is on Friday in room 204.", 0.5, ("m2", "m3"))


def test_sentences_and_their_markers_are_split() -> None:
    draft = "The database is PostgreSQL [1]. The demo is on Friday. [2][1] Uncited claim."
    assert split_claims(draft) == [
        ("The database is PostgreSQL.", (1,)),
        ("The demo is on Friday.", (2, 1)),
        ("Uncited claim.", ()),
    ]


def test_supported_claims_are_kept_with_their_citations() -> None:
    answer = ground(
        "basic", "The database will be PostgreSQL [1]. The demo is Friday [2].", [DB, DEMO]
    )
    assert [(c.text, c.passages) for c in answer.claims] == [
        ("The database will be PostgreSQL.", (1,)),
        ("The demo is Friday.", (2,)),
    ]
    assert answer.message_ids == ("m1", "m2", "m3")
    assert answer.text == "The database will be PostgreSQL. [1] The demo is Friday. [2]"


def test_a_claim_without_citation_is_dropped() -> None:
    answer = ground("basic", "The database is PostgreSQL. The demo is Friday [2].", [DB, DEMO])
    assert [c.text for c in answer.claims] == ["The demo is Friday."]
    assert [p.chunk_id for p in answer.cited] == ["c2"]


def test_a_citation_that_does_not_support_the_claim_is_dropped() -> None:
    # Passage 1 exists but says nothing about MongoDB or the budget.
    answer = ground("basic", "The team moved to MongoDB after the budget cut [1].", [DB, DEMO])
    assert answer.claims == ()
    assert answer.cited == ()
    assert answer.message_ids == ()


def test_a_citation_to_a_passage_that_was_not_given_is_dropped() -> None:
    answer = ground("basic", "The database will be PostgreSQL [7].", [DB])
    assert answer.claims == ()


def test_only_the_supporting_marker_of_several_is_kept() -> None:
    answer = ground("local", "The demo is on Friday [1][2].", [DB, DEMO])
    assert answer.claims[0].passages == (2,)
    assert answer.mode == "local"


def test_support_needs_most_content_words() -> None:
    assert supports("database PostgreSQL", [DB])
    assert not supports("database MongoDB Cassandra Redis", [DB])
    assert not supports("the of and", [DB])


async def test_the_extractive_composer_quotes_relevant_sentences_with_markers() -> None:
    model = ExtractiveChatModel()
    draft = await model.answer("Which database did we decide on?", [DEMO, DB])
    assert draft == "We decided the database will be PostgreSQL. [1]"
    assert await model.answer("Which database did we decide on?", [DEMO, DB]) == draft


async def test_the_extractive_composer_is_fully_grounded() -> None:
    passages = [DB, DEMO]
    draft = await ExtractiveChatModel().answer("When is the demo and which database?", passages)
    answer = ground("basic", draft, passages)
    assert len(answer.claims) == len(split_claims(draft)) == 2
    assert answer.message_ids == ("m1", "m2", "m3")


async def test_nothing_relevant_gives_an_empty_draft() -> None:
    assert await ExtractiveChatModel().answer("Who won the football match?", [DB, DEMO]) == ""
