"""The VectorIndex contract, run against every adapter (see conftest.py)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from coagent_graphstore.errors import InvalidRecord
from coagent_graphstore.models import Scope, VectorItem, VectorKind
from coagent_graphstore.ports import VectorIndex

from .conftest import DIMENSION


def axis(i: int, lean: float = 0.0) -> tuple[float, ...]:
    """Unit vector on axis ``i``, leaning towards axis ``i + 1`` by ``lean``."""
    v = [0.0] * DIMENSION
    v[i] = 1.0
    v[(i + 1) % DIMENSION] = lean
    return tuple(v)


def item(item_id: str, kind: VectorKind, vector: tuple[float, ...], *sources: str) -> VectorItem:
    return VectorItem(item_id, kind, vector, sources, text=f"text of {item_id}")


async def seed(index: VectorIndex, scope: Scope) -> None:
    await index.upsert(scope, [
        item("c1", "chunk", axis(0), "m1"),
        item("c2", "chunk", axis(0, 0.5), "m2"),
        item("c3", "chunk", axis(0, 2.0), "m2", "m3"),
        item("e1", "entity", axis(0, 0.1), "m1"),
        item("r1", "community", axis(3), "m3"),
    ])  # fmt: skip


async def test_search_ranks_by_cosine_similarity(vector_index: VectorIndex, room_a: Scope) -> None:
    await seed(vector_index, room_a)
    hits = await vector_index.search(room_a, axis(0), k=3)
    assert [(h.kind, h.id) for h in hits] == [("chunk", "c1"), ("entity", "e1"), ("chunk", "c2")]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[2].score == pytest.approx(1 / math.sqrt(1.25), abs=1e-4)
    assert (hits[0].source_ids, hits[0].text) == (("m1",), "text of c1")


async def test_search_filters_by_kind_and_still_returns_k(
    vector_index: VectorIndex, room_a: Scope
) -> None:
    await seed(vector_index, room_a)
    chunks = await vector_index.search(room_a, axis(0), k=3, kinds=["chunk"])
    assert [h.id for h in chunks] == ["c1", "c2", "c3"]
    reports = await vector_index.search(room_a, axis(0), k=5, kinds=["community"])
    assert [h.id for h in reports] == ["r1"]


async def test_upsert_replaces_by_kind_and_id(vector_index: VectorIndex, room_a: Scope) -> None:
    await seed(vector_index, room_a)
    await vector_index.upsert(room_a, [item("c1", "chunk", axis(5), "m9")])
    await vector_index.upsert(room_a, [item("c1", "chunk", axis(5), "m9")])
    hits = await vector_index.search(room_a, axis(5), k=10)
    assert [(h.id, h.source_ids) for h in hits if h.id == "c1"] == [("c1", ("m9",))]
    assert hits[0].id == "c1"
    assert len(hits) == 5


async def test_delete_by_id_and_by_source(vector_index: VectorIndex, room_a: Scope) -> None:
    await seed(vector_index, room_a)
    await vector_index.delete(room_a, "chunk", ["c1", "missing"])
    assert await vector_index.delete_sources(room_a, ["m2"]) == 2
    assert await vector_index.delete_sources(room_a, ["m2"]) == 0
    hits = await vector_index.search(room_a, axis(0), k=10)
    assert sorted(h.id for h in hits) == ["e1", "r1"]


async def test_bad_vectors_are_refused(vector_index: VectorIndex, room_a: Scope) -> None:
    with pytest.raises(InvalidRecord):
        await vector_index.upsert(room_a, [VectorItem("x", "chunk", (1.0, 2.0))])
    with pytest.raises(InvalidRecord):
        await vector_index.upsert(room_a, [VectorItem("x", "chunk", (0.0,) * DIMENSION)])
    with pytest.raises(InvalidRecord):
        await vector_index.search(room_a, (1.0,), k=1)
    with pytest.raises(InvalidRecord):
        await vector_index.search(room_a, axis(0), k=0)


async def test_an_empty_room_finds_nothing(vector_index: VectorIndex, room_a: Scope) -> None:
    await vector_index.ping()
    assert await vector_index.search(room_a, axis(0), k=5) == []
    assert await vector_index.delete_sources(room_a, ["m1"]) == 0
    await vector_index.purge(room_a)


async def test_no_search_or_delete_crosses_rooms(
    vector_index: VectorIndex, room_a: Scope, room_b: Scope
) -> None:
    await seed(vector_index, room_a)
    await vector_index.upsert(room_b, [item("c1", "chunk", axis(1), "m1")])
    for other in (room_b, Scope(room_a.room_id, course_id="course-2"), Scope(room_a.room_id)):
        hits = await vector_index.search(other, axis(0), k=10)
        assert all(h.text != "text of c2" for h in hits)
        assert [h.id for h in hits] in ([], ["c1"])
    # Room B's "c1" is its own point: deleting or forgetting there leaves room A intact.
    await vector_index.delete(room_b, "chunk", ["c1", "c2"])
    assert await vector_index.delete_sources(room_b, ["m1", "m2", "m3"]) == 0
    await vector_index.purge(room_b)
    assert len(await vector_index.search(room_a, axis(0), k=10)) == 5
    await vector_index.purge(room_a)
    assert await vector_index.search(room_a, axis(0), k=10) == []


def unit(rng: random.Random) -> tuple[float, ...]:
    v = [rng.gauss(0.0, 1.0) for _ in range(DIMENSION)]
    norm = math.sqrt(sum(x * x for x in v))
    return tuple(x / norm for x in v)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # both are unit vectors


async def assert_exact(
    index: VectorIndex, scope: Scope, live: dict[str, tuple[float, ...]]
) -> None:
    """Every live item is its own top hit at ≈ 1, and every top-k is the exact cosine ranking."""
    k = min(4, len(live))
    for item_id, vector in live.items():
        hits = await index.search(scope, vector, k=k, kinds=["chunk"])
        assert (hits[0].id, hits[0].text) == (item_id, f"text of {item_id}")
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        ranked = sorted(live, key=lambda other: -cosine(vector, live[other]))[:k]
        assert [h.id for h in hits] == ranked
        for hit in hits:
            assert hit.score == pytest.approx(cosine(vector, live[hit.id]), abs=1e-4)
    everything = await index.search(scope, next(iter(live.values())), k=100, kinds=["chunk"])
    assert sorted(h.id for h in everything) == sorted(live)


async def test_rewriting_vectors_keeps_every_item_and_neighbour_exact(
    vector_index: VectorIndex, room_a: Scope
) -> None:
    rng = random.Random(5)
    live = {f"n{i}": unit(rng) for i in range(6)}  # neighbours, written once
    await vector_index.upsert(room_a, [item(i, "chunk", v, "m0") for i, v in live.items()])
    for round_ in range(4):
        rewritten = {f"u{i}": unit(rng) for i in range(4)}
        live |= rewritten
        await vector_index.upsert(room_a, [item(i, "chunk", v, "m1") for i, v in rewritten.items()])
        # Other items written between the rewrites, the way ingest interleaves rooms' chunks.
        other = {f"o{round_}": unit(rng)}
        live |= other
        await vector_index.upsert(room_a, [item(i, "chunk", v, "m2") for i, v in other.items()])
    await assert_exact(vector_index, room_a, live)


async def test_deleted_items_never_come_back(vector_index: VectorIndex, room_a: Scope) -> None:
    rng = random.Random(9)
    live = {f"c{i}": unit(rng) for i in range(10)}
    sources = {i: f"m{n % 3}" for n, i in enumerate(live)}
    await vector_index.upsert(room_a, [item(i, "chunk", v, sources[i]) for i, v in live.items()])
    gone = {i: live.pop(i) for i in ("c0", "c5")}
    await vector_index.delete(room_a, "chunk", list(gone))
    gone |= {i: live.pop(i) for i in [i for i in live if sources[i] == "m1"]}
    assert await vector_index.delete_sources(room_a, ["m1"]) == 3  # c1, c4, c7
    rewritten = {i: unit(rng) for i in ("c2", "c3")}
    live |= rewritten
    for _ in range(3):
        await vector_index.upsert(room_a, [item(i, "chunk", v, "m9") for i, v in rewritten.items()])
    await assert_exact(vector_index, room_a, live)
    for vector in gone.values():
        hits = await vector_index.search(room_a, vector, k=100)
        assert not {h.id for h in hits} & set(gone)
