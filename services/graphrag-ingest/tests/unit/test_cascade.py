"""The whole resolution cascade on the memory stores: rules, embedding neighbours, adjudication.

Vectors are chosen by the test (one axis per intended neighbourhood), so which pairs are
candidates is exact; the adjudicator records every batch it is asked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from coagent_graphrag_ingest.adjudication import PairQuestion, Verdict, offline_verdict
from coagent_graphrag_ingest.cascade import EntityResolver, ResolutionPolicy
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.models import (
    EntityUpsert,
    Scope,
    VectorHit,
    VectorItem,
    VectorKind,
    entity_key,
)

DIM = 16
ROOM = Scope("room-a")
OTHER = Scope("room-b")


def axis(i: int, tilt: float = 0.0) -> list[float]:
    """A unit vector on axis ``i``, tilted towards the next axis (cosine = 1/sqrt(1+tilt²))."""
    v = [0.0] * DIM
    v[i], v[(i + 1) % DIM] = 1.0, tilt
    norm = math.sqrt(1.0 + tilt * tilt)
    return [x / norm for x in v]


class Recorder:
    """An adjudicator that records its batches and answers by the offline rules (or fails)."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[PairQuestion]] = []
        self.fail = fail

    async def decide(self, pairs: Sequence[PairQuestion]) -> list[Verdict]:
        self.batches.append(list(pairs))
        if self.fail:
            raise RuntimeError("model unavailable")
        return [offline_verdict(p) for p in pairs]

    @property
    def asked(self) -> set[frozenset[str]]:
        return {frozenset((p.a.key, p.b.key)) for b in self.batches for p in b}


class Harness:
    def __init__(self, policy: ResolutionPolicy | None = None, fail: bool = False) -> None:
        self.graph = MemoryGraphStore()
        self.vectors = MemoryVectorIndex(DIM)
        self.assigned: dict[str, list[float]] = {}
        self.adjudicator = Recorder(fail)
        self.resolver = EntityResolver(
            self.graph, self.vectors, self.adjudicator, self.embed, policy
        )

    async def embed(self, scope: Scope, keys: Sequence[str]) -> dict[str, list[float]]:
        found = {e.key: self.assigned[e.key] for e in await self.graph.entities(scope, keys)}
        items = [VectorItem(k, "entity", tuple(v)) for k, v in found.items()]
        await self.vectors.upsert(scope, items)
        return found

    async def add(self, name: str, type_: str, vector: list[float], *, scope: Scope = ROOM,
                  about: str = "", sources: Sequence[str] = ("m1",)) -> str:  # fmt: skip
        await self.graph.upsert_entities(
            scope, [EntityUpsert(name, type_, s, about or f"{name} came up") for s in sources]
        )
        key = entity_key(name)
        self.assigned[key] = vector
        await self.embed(scope, [key])  # as an earlier pass would have
        return key


async def test_a_same_typed_neighbour_is_adjudicated_and_merged_with_step_and_reason() -> None:
    h = Harness()
    gnn_full = await h.add("Graph Neural Network", "TECHNOLOGY", axis(0), sources=("m1", "m2"))
    gnn = await h.add("GNN", "TECHNOLOGY", axis(0, 0.2))

    resolution = await h.resolver.resolve(ROOM, {gnn})

    assert resolution.merges == ((gnn, gnn_full),)
    [record] = await h.graph.merge_log(ROOM)
    assert record.reason.startswith("adjudication:embedding 0.98: acronym")
    merged = await h.graph.entity(ROOM, "gnn")
    assert merged is not None
    assert merged.key == gnn_full
    assert set(merged.source_ids) == {"m1", "m2"}
    # The survivor changed, so its vector is not current; the pipeline re-embeds it.
    assert gnn_full not in resolution.embedded


async def test_same_name_different_type_is_never_a_candidate() -> None:
    h = Harness()
    await h.add("Apple", "ORGANIZATION", axis(0), about="Apple, also known as the Apple fruit")
    fruit = await h.add("the Apple", "CONCEPT", axis(0))
    await h.add("AF", "CONCEPT", axis(3))

    resolution = await h.resolver.resolve(ROOM, {fruit})

    assert resolution.merges == ()
    assert h.adjudicator.batches == []
    assert len((await h.graph.page(ROOM)).entities) == 3


async def test_a_neighbour_in_another_room_is_never_a_candidate() -> None:
    h = Harness()
    await h.add("GNN", "TECHNOLOGY", axis(0), scope=OTHER)
    full = await h.add("Graph Neural Network", "TECHNOLOGY", axis(0))

    resolution = await h.resolver.resolve(ROOM, {full})

    assert resolution.merges == ()
    assert h.adjudicator.batches == []
    assert await h.graph.entity(OTHER, "GNN") is not None


class LeakyIndex(MemoryVectorIndex):
    """A misbehaving index that also returns an id from elsewhere on every search."""

    async def search(self, scope: Scope, vector: Sequence[float], *, k: int,
                     kinds: Sequence[VectorKind] | None = None) -> list[VectorHit]:  # fmt: skip
        hits = await super().search(scope, vector, k=k, kinds=kinds)
        return [VectorHit("gnn", "entity", 1.0), *hits]


async def test_hits_that_are_not_entities_of_the_room_are_dropped() -> None:
    h = Harness()
    h.vectors = LeakyIndex(DIM)
    h.resolver = EntityResolver(h.graph, h.vectors, h.adjudicator, h.embed)
    await h.add("GNN", "TECHNOLOGY", axis(0), scope=OTHER)
    full = await h.add("Graph Neural Network", "TECHNOLOGY", axis(0))

    assert (await h.resolver.resolve(ROOM, {full})).merges == ()
    assert h.adjudicator.batches == []


async def test_candidate_pairs_are_decided_in_batches() -> None:
    h = Harness(ResolutionPolicy(adjudication_batch=3))
    words = ["Amber", "Birch", "Cedar", "Dune", "Ember", "Fjord", "Grove", "Heath", "Inlet",
             "Jade", "Knoll", "Ledge", "Marsh", "Nook"]  # fmt: skip
    touched = set()
    for i in range(7):  # 7 pairs, each pair alone on its axis
        touched.add(await h.add(words[2 * i], "CONCEPT", axis(2 * i)))
        touched.add(await h.add(words[2 * i + 1], "CONCEPT", axis(2 * i, 0.1)))

    resolution = await h.resolver.resolve(ROOM, touched)

    assert [len(b) for b in h.adjudicator.batches] == [3, 3, 1]  # ceil(7 / 3) calls
    assert len(h.adjudicator.asked) == 7
    assert resolution.merges == ()  # the rules found no evidence: nothing merged
    assert resolution.embedded == frozenset(touched)


async def test_pairs_below_the_threshold_are_not_candidates() -> None:
    h = Harness(ResolutionPolicy(embedding_threshold=0.99))
    await h.add("Graph Neural Network", "TECHNOLOGY", axis(0))
    gnn = await h.add("GNN", "TECHNOLOGY", axis(0, 0.2))  # cosine 0.98

    assert (await h.resolver.resolve(ROOM, {gnn})).merges == ()
    assert h.adjudicator.batches == []


async def test_steps_can_be_switched_off() -> None:
    for policy in (ResolutionPolicy(embedding=False), ResolutionPolicy(adjudication=False)):
        h = Harness(policy)
        await h.add("Graph Neural Network", "TECHNOLOGY", axis(0))
        gnn = await h.add("GNN", "TECHNOLOGY", axis(0))

        assert (await h.resolver.resolve(ROOM, {gnn})).merges == ()
        assert h.adjudicator.batches == []


async def test_rule_steps_run_first_and_the_adjudicator_sees_only_what_they_left() -> None:
    h = Harness()
    pg = await h.add("PostgreSQL", "TECHNOLOGY", axis(0), sources=("m1", "m2"))
    near = await h.add("Postgres", "TECHNOLOGY", axis(0))
    full = await h.add("Graph Neural Network", "TECHNOLOGY", axis(4))
    gnn = await h.add("GNN", "TECHNOLOGY", axis(4))

    resolution = await h.resolver.resolve(ROOM, {near, gnn})

    assert resolution.merges == ((near, pg), (gnn, full))
    reasons = [m.reason for m in reversed(await h.graph.merge_log(ROOM))]
    assert reasons[0].startswith("fuzzy:")
    assert reasons[1].startswith("adjudication:")
    assert h.adjudicator.asked == {frozenset((gnn, full))}


async def test_an_undecided_pair_is_not_asked_again_until_a_side_changes() -> None:
    h = Harness()
    await h.add("Graph Database", "CONCEPT", axis(0))
    theory = await h.add("Graph Theory", "CONCEPT", axis(0))

    await h.resolver.resolve(ROOM, {theory})
    await h.resolver.resolve(ROOM, {theory})
    assert len(h.adjudicator.batches) == 1  # "unsure" is remembered, no merge

    await h.graph.upsert_entities(
        ROOM,
        [EntityUpsert("Graph Theory", "CONCEPT", "m9", "Graph theory, also called Graph Database")],
    )
    resolution = await h.resolver.resolve(ROOM, {theory})
    assert len(h.adjudicator.batches) == 2
    assert len(resolution.merges) == 1


async def test_a_failing_adjudicator_merges_nothing_and_does_not_raise() -> None:
    h = Harness(fail=True)
    await h.add("Graph Neural Network", "TECHNOLOGY", axis(0))
    gnn = await h.add("GNN", "TECHNOLOGY", axis(0))

    resolution = await h.resolver.resolve(ROOM, {gnn})

    assert resolution.merges == ()
    assert len(h.adjudicator.batches) == 1
    assert len((await h.graph.page(ROOM)).entities) == 2
