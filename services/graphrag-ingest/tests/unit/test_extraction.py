"""Offline extraction (deterministic and useful), attribution and the delta key."""

from __future__ import annotations

from coagent_graphrag_ingest.adapters.offline_extractor import OfflineExtractor, extract_chunk
from coagent_graphrag_ingest.chunking import SourceRecord, TextChunk, chunk_sources
from coagent_graphrag_ingest.extraction import (
    ExtractedRelation,
    extraction_key,
    sentence_about,
    turn_for_relation,
    turns_for_entity,
)


def chunk(*turns: tuple[str, str, str]) -> TextChunk:
    sources = [
        SourceRecord("message", f"m{i}", speaker, kind, text, i)  # type: ignore[arg-type]
        for i, (speaker, kind, text) in enumerate(turns, 1)
    ]
    return chunk_sources(sources)[0]


CONVERSATION = chunk(
    ("Ada", "human", "Today we compare the Leiden Algorithm with Louvain. Dr Grace Hopper agreed."),
    ("Tutor", "agent", "Good point Ada. PostgreSQL depends on the Query Planner."),
    ("Ada", "human", "Thanks! I fixed the Import Bug yesterday."),
)


async def test_the_same_chunk_always_gives_the_same_extraction() -> None:
    first = await OfflineExtractor().extract(CONVERSATION)
    second = await OfflineExtractor().extract(CONVERSATION)
    assert first == second
    assert first.entities  # not trivially equal


def test_speakers_names_and_types_are_found() -> None:
    found = {e.name: e.type for e in extract_chunk(CONVERSATION).entities}

    assert found["Ada"] == "PERSON"
    assert found["Tutor"] == "AGENT"
    assert found["Leiden Algorithm"] == "CONCEPT"
    assert found["PostgreSQL"] == "TECHNOLOGY"
    assert found["Dr Grace Hopper"] == "PERSON"
    assert found["Import Bug"] == "ISSUE"
    # Sentence openers and small talk are not entities.
    assert not {"Today", "Good", "Thanks", "Good point Ada"} & set(found)


def test_a_name_after_a_stripped_opener_is_kept() -> None:
    said = chunk(("Ada", "human", "The Zephyr demo is on Friday. For Borealis we chose SQLite."))
    found = {e.name for e in extract_chunk(said).entities}

    assert {"Zephyr", "Borealis", "Friday", "SQLite"} <= found
    assert not {"The", "For", "The Zephyr", "For Borealis"} & found


def test_relations_come_from_shared_sentences_with_verb_cues_and_evidence() -> None:
    relations = {(r.source, r.relation, r.target): r for r in extract_chunk(CONVERSATION).relations}

    depends = relations[("PostgreSQL", "DEPENDS_ON", "Query Planner")]
    assert depends.evidence == "PostgreSQL depends on the Query Planner."
    assert ("Leiden Algorithm", "RELATED_TO", "Louvain") in relations
    assert ("Ada", "DISCUSSES", "Import Bug") in relations
    assert ("Ada", "RESOLVES", "Import Bug") not in relations  # a speaker is not a co-mention


def test_facts_are_attributed_to_the_turns_that_state_them() -> None:
    assert [t.source_id for t in turns_for_entity(CONVERSATION, "Ada")] == ["m1", "m2", "m3"]
    assert [t.source_id for t in turns_for_entity(CONVERSATION, "Query Planner")] == ["m2"]
    # A name nobody wrote is attributed to the whole chunk rather than to nothing.
    assert len(turns_for_entity(CONVERSATION, "Nobody")) == 3

    by_evidence = ExtractedRelation(source="X", target="Y", evidence="I fixed the Import Bug")
    assert turn_for_relation(CONVERSATION, by_evidence).source_id == "m3"
    by_names = ExtractedRelation(source="Louvain", target="Leiden Algorithm")
    assert turn_for_relation(CONVERSATION, by_names).source_id == "m1"

    m2 = CONVERSATION.turns[1]
    assert sentence_about(m2, "Query Planner") == "PostgreSQL depends on the Query Planner."
    assert sentence_about(m2, "Tutor").startswith("Tutor (agent) took part")


def test_the_delta_key_changes_with_text_sources_extractor_and_prompt() -> None:
    base = extraction_key("offline-1", CONVERSATION)
    assert base == extraction_key("offline-1", CONVERSATION)
    assert len(base) == 64

    reposted = TextChunk("other-id", CONVERSATION.turns, ("m9", "m2", "m3"), (), 0)
    edited = chunk(("Ada", "human", "Something else entirely."))
    assert extraction_key("offline-2", CONVERSATION) != base
    assert extraction_key("offline-1", reposted) != base  # same words, other message ids
    assert extraction_key("offline-1", edited) != base
