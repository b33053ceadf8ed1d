"""The shared feature-hashing embedder: deterministic, normalised, similarity-preserving."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from coagent_graphstore.embedding import FeatureHashingEmbedder, tokens
from coagent_graphstore.vectors import cosine


def test_vectors_have_the_dimension_and_unit_length() -> None:
    vectors = FeatureHashingEmbedder(64).embed(["Alice chose PostgreSQL", "the plan"])
    assert [len(v) for v in vectors] == [64, 64]
    for v in vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-9)


def test_same_text_same_vector_in_another_process() -> None:
    text = "Bob will write the Redis cache layer"
    here = FeatureHashingEmbedder(32).embed([text])[0]
    code = (
        "from coagent_graphstore.embedding import FeatureHashingEmbedder;"
        f"print(FeatureHashingEmbedder(32).embed([{text!r}])[0])"
    )
    # A fresh interpreter has another str-hash seed; the vector must not depend on it.
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == str(here)


def test_related_texts_are_closer_than_unrelated_ones() -> None:
    embedder = FeatureHashingEmbedder(256)
    query, related, unrelated = embedder.embed(
        [
            "Which database did the team choose?",
            "We decided the database will be PostgreSQL, the team agreed.",
            "Lunch is at noon on Friday in the cafeteria.",
        ]
    )
    assert cosine(query, related) > cosine(query, unrelated) + 0.1


def test_case_and_function_words_do_not_matter() -> None:
    embedder = FeatureHashingEmbedder(128)
    a, b = embedder.embed(["The Database schema", "database SCHEMA"])
    assert cosine(a, b) == pytest.approx(1.0)


def test_text_without_words_gets_a_fixed_nonzero_vector() -> None:
    empty, punctuation, stop = FeatureHashingEmbedder(16).embed(["", "?!", "the of and"])
    assert any(empty)
    assert empty == punctuation == stop


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        FeatureHashingEmbedder(0)
    with pytest.raises(TypeError, match="sequence"):
        FeatureHashingEmbedder(8).embed("a single string")


def test_tokens_normalise_and_drop_function_words() -> None:
    assert tokens("The ＣＡＦÉ is open") == ["café", "open"]


def test_version_names_the_space() -> None:
    assert FeatureHashingEmbedder(32).version != FeatureHashingEmbedder(64).version
