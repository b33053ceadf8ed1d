"""The search-mode router and entity-name candidates."""

from __future__ import annotations

import pytest

from coagent_graphrag_query.retrieval import name_candidates
from coagent_graphrag_query.search import route


@pytest.mark.parametrize(
    ("question", "linked", "global_available", "mode"),
    [
        ("What did Alice choose?", True, False, "local"),
        ("When is the demo?", False, False, "basic"),
        ("What are the main themes of this room?", True, True, "global"),
        ("Summarize the discussion", False, True, "global"),
        # Without community reports a thematic question still gets an answer from chunks.
        ("Summarize the discussion", False, False, "basic"),
        ("Summarize what Alice said", True, False, "local"),
        ("Which database did Bob pick?", True, True, "local"),
    ],
)
def test_route(question: str, linked: bool, global_available: bool, mode: str) -> None:
    assert route(question, linked_entities=linked, global_available=global_available) == mode


def test_name_candidates_are_word_ngrams_longest_first() -> None:
    found = name_candidates("Did Alice Smith pick Bob’s Postgres?")
    assert found[:2] == ["Did Alice Smith pick", "Alice Smith pick Bob"]
    assert {"Alice Smith", "Postgres", "Alice", "Bob"} <= set(found)
    assert "Did" not in found  # a lone function word is never an entity


def test_name_candidates_are_capped() -> None:
    assert len(name_candidates(" ".join(f"w{i}" for i in range(500)))) == 200
