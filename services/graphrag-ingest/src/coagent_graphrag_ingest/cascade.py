"""The entity resolution cascade of one pass, against the room's graph and vectors.

1-3. ``name`` → ``alias`` → ``fuzzy`` (``resolution.py``): rule merges of the touched entities;
4. ``embedding``: each touched entity's vector is searched among the room's entity vectors;
   neighbours of the same type at or above the similarity threshold become candidate pairs
   (the index is partitioned by room, and hits that are not entities of this room are dropped
   as well, so another room's entity is never a candidate);
5. ``adjudication``: the pairs are decided in batches, one decider call per batch; ``same``
   merges, ``different`` and ``unsure`` do not.

Every merge goes through ``GraphStore.merge_entities`` with its step and reason, so the store's
merge log tells why two entities became one. Verdicts that did not merge are remembered per
pair and per description text, so an unchanged pair is not asked again in later passes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from coagent_graphrag_ingest.adjudication import (
    Adjudicator,
    PairQuestion,
    Side,
    Verdict,
    batches,
    side_description,
)
from coagent_graphrag_ingest.resolution import FUZZY_RATIO, Candidate, plan_merges, survivor
from coagent_graphstore.models import Entity, EntityMerge, Scope
from coagent_graphstore.ports import GraphStore, VectorIndex
from coagent_kit.logging import get_logger

log = get_logger(__name__)
#: Resolution compares new entities with at most this many of the room's (pages of 1,000).
MAX_RESOLUTION_ENTITIES = 20_000
_PAGE = 1000
#: Settled verdicts remembered (oldest forgotten first).
MAX_REMEMBERED_VERDICTS = 10_000

#: Writes the vectors of these entities; returns each written key's vector.
EmbedEntities = Callable[[Scope, Sequence[str]], Awaitable[dict[str, list[float]]]]


@dataclass(frozen=True, slots=True)
class ResolutionPolicy:
    """Which steps run and their thresholds (the name and alias steps always run)."""

    fuzzy: bool = True
    fuzzy_ratio: float = FUZZY_RATIO
    embedding: bool = True
    #: Cosine similarity of two entity vectors from which they are a candidate pair.
    embedding_threshold: float = 0.8
    #: Neighbours looked at per touched entity.
    embedding_neighbours: int = 5
    adjudication: bool = True
    #: Candidate pairs decided per decider call.
    adjudication_batch: int = 20


@dataclass(frozen=True, slots=True)
class Resolution:
    """(merged, into) keys in order, and the keys whose vectors are already current."""

    merges: tuple[tuple[str, str], ...] = ()
    embedded: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _Pair:
    a: str
    b: str
    similarity: float


class EntityResolver:
    """Runs the cascade for the entities a pass touched."""

    def __init__(
        self,
        graph: GraphStore,
        vectors: VectorIndex,
        adjudicator: Adjudicator,
        embed_entities: EmbedEntities,
        policy: ResolutionPolicy | None = None,
    ) -> None:
        self._graph = graph
        self._vectors = vectors
        self._adjudicator = adjudicator
        self._embed_entities = embed_entities
        self.policy = policy or ResolutionPolicy()
        self._settled: dict[tuple[str, str, str, str], Verdict] = {}

    async def resolve(self, scope: Scope, touched: set[str]) -> Resolution:
        if not touched:
            return Resolution()
        room = await self._room_entities(scope)
        alive = {e.key: e for e in room}
        merges = await self._rule_merges(scope, room, touched)
        for merged, _ in merges:
            alive.pop(merged, None)
        if not self.policy.embedding:
            return Resolution(tuple(merges))
        # Survivors changed; reread them and the touched entities the rules left alone.
        fresh_keys = sorted(k for k in touched | {i for _, i in merges} if k in alive)
        alive.update({e.key: e for e in await self._graph.entities(scope, fresh_keys)})
        vectors = await self._embed_entities(scope, fresh_keys)
        pairs = await self._neighbour_pairs(scope, vectors, alive)
        later = await self._adjudicate(scope, pairs, alive) if self.policy.adjudication else []
        changed = {k for pair in later for k in pair}
        return Resolution(tuple(merges + later), frozenset(vectors) - changed)

    # ------------------------------------------------------------------ rule steps
    async def _rule_merges(
        self, scope: Scope, room: Sequence[Entity], touched: set[str]
    ) -> list[tuple[str, str]]:
        candidates = [_candidate(e) for e in room]
        fresh = [c for c in candidates if c.key in touched]
        planned = plan_merges(
            fresh, candidates, fuzzy=self.policy.fuzzy, ratio=self.policy.fuzzy_ratio
        )
        for merge in planned:
            await self._merge(scope, merge.merged, merge.into, merge.reason)
        return [(m.merged, m.into) for m in planned]

    # ------------------------------------------------------------ embedding step
    async def _neighbour_pairs(
        self, scope: Scope, vectors: dict[str, list[float]], alive: dict[str, Entity]
    ) -> list[_Pair]:
        """Same-type neighbours above the threshold, each pair once, most similar first."""
        found: dict[tuple[str, str], float] = {}
        k = self.policy.embedding_neighbours + 1  # the entity finds itself first
        for key, vector in vectors.items():
            for hit in await self._vectors.search(scope, vector, k=k, kinds=["entity"]):
                other = alive.get(hit.id)
                if other is None or hit.id == key or other.type != alive[key].type:
                    continue
                if hit.score >= self.policy.embedding_threshold:
                    a, b = sorted((key, hit.id))
                    found[(a, b)] = max(found.get((a, b), 0.0), hit.score)
        pairs = [_Pair(a, b, score) for (a, b), score in found.items()]
        return sorted(pairs, key=lambda p: (-p.similarity, p.a, p.b))

    # --------------------------------------------------------- adjudication step
    async def _adjudicate(
        self, scope: Scope, pairs: Sequence[_Pair], alive: dict[str, Entity]
    ) -> list[tuple[str, str]]:
        asked = [(p, _question(p, alive)) for p in pairs]
        open_ = [(p, q) for p, q in asked if _memo(scope, q) not in self._settled]
        verdicts: list[Verdict] = []
        for batch in batches(open_, self.policy.adjudication_batch):
            try:
                verdicts.extend(await self._adjudicator.decide([q for _, q in batch]))
            except Exception as exc:  # no merge beats a wrong one; the pass goes on
                log.warning("adjudication_failed", room_id=scope.room_id, error=str(exc))
                return []
        done: list[tuple[str, str]] = []
        moved: dict[str, str] = {}
        for (pair, question), verdict in zip(open_, verdicts, strict=False):
            if verdict.decision != "same":
                self._remember(scope, question, verdict)
                continue
            a, b = _follow(moved, pair.a), _follow(moved, pair.b)
            if a == b:
                continue
            into, merged = survivor(_candidate(alive[a]), _candidate(alive[b]))
            reason = f"adjudication:embedding {pair.similarity:.2f}: {verdict.reason}"
            await self._merge(scope, merged.key, into.key, reason)
            moved[merged.key] = into.key
            done.append((merged.key, into.key))
        return done

    def _remember(self, scope: Scope, question: PairQuestion, verdict: Verdict) -> None:
        if len(self._settled) >= MAX_REMEMBERED_VERDICTS:
            del self._settled[next(iter(self._settled))]
        self._settled[_memo(scope, question)] = verdict

    # ------------------------------------------------------------------- helpers
    async def _merge(self, scope: Scope, merged: str, into: str, reason: str) -> None:
        await self._graph.merge_entities(
            scope, EntityMerge(merged=merged, into=into, reason=reason)
        )
        log.info("entities_merged", room_id=scope.room_id, merged=merged, into=into, reason=reason)

    async def _room_entities(self, scope: Scope) -> list[Entity]:
        entities: list[Entity] = []
        offset: int | None = 0
        while offset is not None and len(entities) < MAX_RESOLUTION_ENTITIES:
            page = await self._graph.page(scope, offset=offset, limit=_PAGE)
            entities.extend(page.entities)
            offset = page.next_offset
        return entities


def _candidate(entity: Entity) -> Candidate:
    return Candidate(
        entity.key, entity.name, entity.type, entity.aliases, len(set(entity.source_ids))
    )


def _question(pair: _Pair, alive: dict[str, Entity]) -> PairQuestion:
    return PairQuestion(_side(alive[pair.a]), _side(alive[pair.b]), pair.similarity)


def _side(entity: Entity) -> Side:
    about = side_description([d.text for d in entity.descriptions])
    return Side(entity.key, entity.name, entity.type, entity.aliases, about)


def _memo(scope: Scope, question: PairQuestion) -> tuple[str, str, str, str]:
    """A pair is asked again only once what is known about either side has changed."""
    said = f"{question.a.description}\x1e{question.b.description}"
    digest = hashlib.sha256(said.encode()).hexdigest()[:16]
    return (scope.key, question.a.key, question.b.key, digest)


def _follow(moved: dict[str, str], key: str) -> str:
    while key in moved:
        key = moved[key]
    return key
