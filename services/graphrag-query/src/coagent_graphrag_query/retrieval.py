"""Finding the passages an answer may use, in one room's partition only.

``basic`` ranks the room's chunk vectors against the question. ``local`` links the question to
entities (by name or alias, then by entity vectors), expands their neighbourhood within caps and
ranks the chunks mentioning those entities, topped up by basic hits when there are too few.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from coagent_graphrag_query.answers import Passage
from coagent_graphstore.embedding import FeatureHashingEmbedder, tokens
from coagent_graphstore.models import Chunk, Scope, Subgraph
from coagent_graphstore.ports import GraphStore, VectorIndex
from coagent_graphstore.vectors import cosine

#: Longest word n-gram of the question tried as an entity name.
MAX_NAME_WORDS = 4
MAX_NAME_CANDIDATES = 200
_POSSESSIVE = re.compile(r"['’]s$")


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep one question's work bounded whatever the room's size."""

    passages: int = 6
    #: Cosine below which a chunk or entity vector is not considered related at all.
    min_score: float = 0.1
    entity_hits: int = 5
    hops: int = 1
    max_entities: int = 25
    max_relations: int = 50
    chunks_per_expansion: int = 40


@dataclass(frozen=True, slots=True)
class Retrieved:
    passages: tuple[Passage, ...]
    entities: tuple[str, ...] = ()


class Retriever:
    def __init__(
        self,
        graph: GraphStore,
        vectors: VectorIndex,
        embedder: FeatureHashingEmbedder,
        limits: Limits | None = None,
    ) -> None:
        self._graph, self._vectors, self._embedder = graph, vectors, embedder
        self.limits = limits or Limits()

    def embed(self, question: str) -> list[float]:
        return self._embedder.embed([question])[0]

    async def basic(self, scope: Scope, question: str) -> Retrieved:
        """The chunks whose vectors are nearest the question."""
        ranked = await self._chunk_hits(scope, self.embed(question), self.limits.passages)
        return Retrieved(_numbered(ranked))

    async def link_entities(
        self, scope: Scope, question: str, *, by_vector: bool = True
    ) -> list[str]:
        """Entity keys the question names (exactly or by alias) or is near in vector space."""
        named = await self._graph.entities(scope, name_candidates(question))
        if not by_vector:
            return [e.key for e in named]
        hits = await self._vectors.search(
            scope, self.embed(question), k=self.limits.entity_hits, kinds=["entity"]
        )
        near = [h.id for h in hits if h.score >= self.limits.min_score]
        linked = await self._graph.entities(scope, near) if near else []
        return list(dict.fromkeys([e.key for e in named] + [e.key for e in linked]))

    async def local(self, scope: Scope, question: str) -> Retrieved:
        """Chunks around the entities the question links to, best matching first."""
        seeds = await self.link_entities(scope, question)
        query = self.embed(question)
        ranked: list[tuple[float, Chunk]] = []
        if seeds:
            sub = await self._graph.neighbourhood(
                scope,
                seeds,
                hops=self.limits.hops,
                max_entities=self.limits.max_entities,
                max_relations=self.limits.max_relations,
            )
            ranked = await self._around(scope, query, seeds, sub)
        if len(ranked) < self.limits.passages:
            seen = {c.id for _, c in ranked}
            extra = await self._chunk_hits(scope, query, self.limits.passages)
            ranked += [(s, c) for s, c in extra if c.id not in seen]
        return Retrieved(_numbered(ranked[: self.limits.passages]), tuple(seeds))

    async def _around(
        self, scope: Scope, query: Sequence[float], seeds: Sequence[str], sub: Subgraph
    ) -> list[tuple[float, Chunk]]:
        chunks = await self._mentioning(scope, seeds, [e.key for e in sub.entities])
        if not chunks:
            return []
        vectors = self._embedder.embed([c.text for c in chunks])
        seed_set = set(seeds)
        scored = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            # A chunk naming a linked entity outranks one that only names a neighbour.
            bonus = 0.5 if seed_set & set(chunk.mentions) else 0.0
            scored.append((cosine(query, vector) + bonus, chunk))
        return sorted(scored, key=lambda t: (-t[0], t[1].position, t[1].id))

    async def _mentioning(
        self, scope: Scope, seeds: Sequence[str], members: Sequence[str]
    ) -> list[Chunk]:
        """Chunks naming the seeds first, then their neighbours, within one cap.

        The store returns chunks by position, so asking for all members at once would let a
        busy neighbour's early chunks crowd out the seeds' own.
        """
        cap = self.limits.chunks_per_expansion
        chunks = await self._graph.chunks_mentioning(scope, seeds, limit=cap)
        others = [k for k in members if k not in set(seeds)]
        if others and len(chunks) < cap:
            seen = {c.id for c in chunks}
            more = await self._graph.chunks_mentioning(scope, others, limit=cap)
            chunks += [c for c in more if c.id not in seen][: cap - len(chunks)]
        return chunks

    async def _chunk_hits(
        self, scope: Scope, query: Sequence[float], k: int
    ) -> list[tuple[float, Chunk]]:
        hits = await self._vectors.search(scope, query, k=k, kinds=["chunk"])
        scores = {h.id: h.score for h in hits if h.score >= self.limits.min_score}
        # The graph is the record: a vector whose chunk is gone (forgotten) is not evidence.
        chunks = await self._graph.chunks(scope, list(scores))
        return [(scores[c.id], c) for c in chunks]


def name_candidates(question: str) -> list[str]:
    """Word n-grams of the question that might be entity names or aliases."""
    words = question.replace("?", " ").replace(",", " ").split()
    words = [_POSSESSIVE.sub("", w.strip(".!;:\"'()")) for w in words]
    words = [w for w in words if w]
    found: list[str] = []
    for size in range(MAX_NAME_WORDS, 0, -1):
        for start in range(len(words) - size + 1):
            gram = words[start : start + size]
            # A lone function word ("the", "who") is never an entity worth linking.
            if size == 1 and not tokens(gram[0]):
                continue
            found.append(" ".join(gram))
    return list(dict.fromkeys(found))[:MAX_NAME_CANDIDATES]


def _numbered(ranked: Sequence[tuple[float, Chunk]]) -> tuple[Passage, ...]:
    return tuple(
        Passage(i, c.id, c.text, round(score, 6), c.message_ids, c.artifact_ids)
        for i, (score, c) in enumerate(ranked, start=1)
    )
