"""Conversation-aware chunking: speakers, turn boundaries, long messages, artifacts."""

from __future__ import annotations

import pytest

from coagent_graphrag_ingest.chunking import (
    SourceRecord,
    artifact_text,
    chunk_sources,
    speaker_label,
    split_text,
)


def message(seq: int, text: str, speaker: str = "Ada", kind: str = "human") -> SourceRecord:
    return SourceRecord("message", f"m{seq}", speaker, kind, text, seq)  # type: ignore[arg-type]


def test_speakers_are_resolved_to_names_never_to_ids_or_system() -> None:
    assert speaker_label("human", "  Ada   Lovelace ", "u-1", None) == "Ada Lovelace"
    assert speaker_label("agent", None, None, "teacher") == "Teacher agent"
    assert speaker_label("agent", None, None, None) == "Agent"
    assert speaker_label("human", None, "0123456789abcdef", None) == "User 01234567"
    assert speaker_label("system", None, None, None) == "System"


def test_turns_are_labelled_and_ordered_by_seq() -> None:
    chunks = chunk_sources([message(2, "Second."), message(1, "First.", "Tutor", "agent")])

    assert len(chunks) == 1
    assert chunks[0].text == "Tutor (agent): First.\nAda (human): Second."
    assert chunks[0].message_ids == ("m1", "m2")


def test_a_turn_is_never_cut_between_two_chunks() -> None:
    sources = [message(i, f"Sentence number {i} is about graphs.") for i in range(1, 30)]

    chunks = chunk_sources(sources, max_chars=200)

    assert len(chunks) > 1
    assert all(len(c.text) <= 200 for c in chunks)
    seen = [mid for c in chunks for mid in c.message_ids]
    assert seen == [f"m{i}" for i in range(1, 30)]  # each message in exactly one chunk
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_a_long_message_is_split_at_sentences_and_every_part_names_it() -> None:
    long = " ".join(f"Sentence {i} explains one more detail of the method." for i in range(40))
    chunks = chunk_sources([message(1, "Short."), message(2, long), message(3, "After.")], 300)

    parts = [c for c in chunks if c.message_ids == ("m2",)]
    assert len(parts) > 2
    assert all(len(c.text) <= 300 for c in chunks)
    assert all(p.text.startswith("Ada (human): Sentence") for p in parts)
    assert all(p.text.endswith(".") for p in parts)  # cut at sentence ends
    assert chunks[0].message_ids == ("m1",)
    assert chunks[-1].message_ids == ("m3",)
    assert len({c.id for c in chunks}) == len(chunks)


def test_split_text_breaks_a_sentence_without_ends_at_spaces() -> None:
    parts = split_text("word " * 100, 50)
    assert all(0 < len(p) <= 50 for p in parts)
    assert " ".join(parts).split() == ["word"] * 100


def test_appending_a_message_keeps_every_earlier_chunk() -> None:
    sources = [message(i, f"Message {i} talks about Leiden communities.") for i in range(1, 20)]
    before = chunk_sources(sources, 250)

    after = chunk_sources([*sources, message(20, "One more remark.")], 250)

    assert after[: len(before) - 1] == before[:-1]
    assert after[len(before) - 1].id == before[-1].id  # the last chunk grew or stayed


def test_artifacts_get_chunks_of_their_own() -> None:
    text = artifact_text("Design notes", {"body": "Use Neo4j.", "tags": ["graph"]})
    doc = SourceRecord("artifact", "a1", "Design notes", "artifact", text)

    chunks = chunk_sources([message(1, "Hello there."), doc])

    assert [c.source_ids for c in chunks] == [("m1",), ("a1",)]
    assert chunks[1].artifact_ids == ("a1",)
    assert chunks[1].message_ids == ()
    assert "Use Neo4j." in chunks[1].text
    assert "graph" in chunks[1].text


def test_empty_messages_make_no_chunk_and_tiny_limits_are_refused() -> None:
    assert chunk_sources([message(1, "   ")]) == []
    with pytest.raises(ValueError, match="max_chars"):
        chunk_sources([], max_chars=10)
