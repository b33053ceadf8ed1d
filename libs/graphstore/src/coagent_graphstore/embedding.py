"""The deterministic text embedder both GraphRAG services share.

``FeatureHashingEmbedder(dimension).embed(texts) -> list[list[float]]`` is synchronous, pure
and CPU-only: the same text gives the same vector in every process and on every machine, so
vectors written by ingestion and queries embedded at read time always live in one space.

How a text becomes a vector (changing any step changes every stored vector, so bump
``EMBEDDER_VERSION`` and re-embed when doing so):

* NFKC-normalise and case-fold, then split into word tokens (``\\w+``);
* common English function words are dropped (they would make every question look alike);
* each remaining word adds weight 1.0 to its own feature and each of its character trigrams
  (with ``<``/``>`` word boundaries) adds ``TRIGRAM_WEIGHT``, so inflections still overlap;
* a feature lands in bucket ``blake2b(feature) mod dimension`` with a sign from the same hash
  (signed hashing keeps collisions unbiased); counts are damped as ``1 + ln(count)``;
* the result is L2-normalised.

A text without any word still gets a fixed non-zero vector (the ``EMPTY_FEATURE`` bucket),
because vector indexes reject zero vectors.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

EMBEDDER_VERSION = "fh-1"
TRIGRAM_WEIGHT = 0.5
EMPTY_FEATURE = "\x00empty"

_WORD = re.compile(r"\w+")

# fmt: off
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do",
    "does", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it",
    "its", "me", "my", "no", "not", "of", "on", "or", "our", "so", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when",
    "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your",
))
# fmt: on


def tokens(text: str) -> list[str]:
    """The content words of ``text``: normalised, case-folded, function words removed."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    return [w for w in words if w not in STOPWORDS]


def _features(text: str) -> Counter[str]:
    weights: Counter[str] = Counter()
    for word in tokens(text):
        weights["w:" + word] += 1
        padded = f"<{word}>"
        for i in range(len(padded) - 2):
            weights["t:" + padded[i : i + 3]] += 1
    return weights


def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    return (value >> 1) % dimension, (1.0 if value & 1 else -1.0)


class FeatureHashingEmbedder:
    """Signed feature hashing of words and character trigrams into ``dimension`` floats."""

    def __init__(self, dimension: int) -> None:
        if not isinstance(dimension, int) or dimension < 1:
            raise ValueError(f"dimension must be a positive integer, got {dimension!r}")
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def version(self) -> str:
        """Identifies the vector space: equal versions and dimensions are comparable."""
        return f"{EMBEDDER_VERSION}/{self._dimension}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order."""
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of texts, not a single string")
        return [self._embed_one(t) for t in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self._dimension
        features = _features(text)
        if not features:
            features = Counter({EMPTY_FEATURE: 1})
        for feature, count in features.items():
            weight = TRIGRAM_WEIGHT if feature.startswith("t:") else 1.0
            index, sign = _bucket(feature, self._dimension)
            vector[index] += sign * weight * (1.0 + math.log(count))
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:
            # Every feature cancelled out in a tiny space; fall back to the fixed empty bucket.
            index, sign = _bucket(EMPTY_FEATURE, self._dimension)
            vector[index] = sign
            return vector
        return [x / norm for x in vector]
