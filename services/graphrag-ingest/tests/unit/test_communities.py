"""Clustering: weighted undirected hierarchical Leiden, deterministic, with ids that persist."""

from __future__ import annotations

import hashlib
import random

from coagent_graphrag_ingest.communities import (
    Cluster,
    assign_ids,
    canonical_weight,
    kept_clusters,
    partition,
    relation_weight,
    undirected_edges,
)
from coagent_graphstore.models import Community, Evidence, Relation

GROUPS = [[f"g{g}-n{i}" for i in range(8)] for g in range(3)]


def rel(a: str, b: str, weight: float = 1.0, kind: str = "RELATED_TO") -> Relation:
    return Relation(a, b, kind, (Evidence("m1", f"{a} and {b}", weight),))


def planted(seed: int = 7) -> list[Relation]:
    """Three dense groups of eight joined by single weak bridges."""
    rnd = random.Random(seed)
    found = [rel(a, b) for g in GROUPS for a in g for b in g if a < b and rnd.random() < 0.6]
    return [*found, rel("g0-n0", "g1-n0", 0.2), rel("g1-n1", "g2-n0", 0.2)]


def test_directions_and_types_fold_into_one_weighted_pair() -> None:
    edges = undirected_edges([rel("b", "a", 1.0), rel("a", "b", 2.0, "USES"), rel("a", "a")])
    assert edges == [("a", "b", 3.0)]


def test_planted_groups_are_found_in_two_levels() -> None:
    communities = partition(planted(), [], max_cluster_size=5)

    top = [c for c in communities if c.level == 0]
    assert sorted(c.members for c in top) == [tuple(sorted(g)) for g in GROUPS]
    children = [c for c in communities if c.level == 1]
    assert children, "groups larger than the cap are split one level down"
    by_id = {c.id: c for c in top}
    for child in children:
        assert child.parent_id in by_id
        assert set(child.members) <= set(by_id[child.parent_id].members)


def test_the_same_graph_gives_the_same_communities() -> None:
    first = partition(planted(), [], max_cluster_size=5)
    assert partition(planted(), [], max_cluster_size=5) == first
    # Rebuilding on top of itself changes nothing either.
    assert partition(planted(), first, max_cluster_size=5) == first


def test_a_small_change_keeps_the_ids_of_the_clusters_it_touches_little() -> None:
    before = partition(planted(), [], max_cluster_size=50)
    grown = [*planted(), rel("g2-n1", "newcomer", 3.0), rel("g2-n2", "newcomer", 3.0)]

    after = partition(grown, before, max_cluster_size=50)

    assert {c.id for c in after} == {c.id for c in before}
    joined = next(c for c in after if "newcomer" in c.members)
    assert "g2-n1" in joined.members


def test_a_new_cluster_gets_a_new_id_derived_from_its_members() -> None:
    before = partition(planted(), [], max_cluster_size=50)
    island = [rel("x1", "x2"), rel("x2", "x3"), rel("x1", "x3")]

    after = partition([*planted(), *island], before, max_cluster_size=50)

    new = [c for c in after if c.id not in {b.id for b in before}]
    assert [c.members for c in new] == [("x1", "x2", "x3")]
    assert new[0].id.startswith("c0-")
    again = partition([*planted(), *island], [], max_cluster_size=50)
    assert new[0].id in {c.id for c in again}


def as_a_store_returns_them(relations: list[Relation]) -> list[Relation]:
    """The same relations reversed, with weights at 15 significant digits (as FalkorDB reads)."""
    return [
        Relation(r.source, r.target, r.relation,
                 tuple(Evidence(e.source_id, e.text, float(f"{e.weight:.15g}"))
                       for e in r.evidence))
        for r in reversed(relations)
    ]  # fmt: skip


def test_store_order_and_float_precision_do_not_change_communities() -> None:
    rnd = random.Random(3)
    # Weights whose sums depend on order and on the last bits: 0.1 + 0.2 != 0.3.
    relations = [
        Relation(r.source, r.target, r.relation,
                 (*r.evidence, Evidence("m2", "again", rnd.choice([0.1, 0.2, 1 / 3, 0.7]))))
        for r in planted()
    ]  # fmt: skip
    written = partition(relations, [], max_cluster_size=5)

    assert partition(as_a_store_returns_them(relations), [], max_cluster_size=5) == written
    assert partition(as_a_store_returns_them(relations), written, max_cluster_size=5) == written
    assert undirected_edges(as_a_store_returns_them(relations)) == undirected_edges(relations)


def test_weights_are_canonical_to_twelve_digits() -> None:
    assert canonical_weight(0.1 + 0.2) == canonical_weight(0.3) == 0.3
    assert relation_weight(rel("a", "b", 1 / 3)) == canonical_weight(0.333333333333333)


def test_ids_are_unique_in_the_room_and_one_per_kept_cluster() -> None:
    twin = ("x", "y")
    digest = hashlib.sha256("\x1f".join(twin).encode()).hexdigest()[:10]
    # An old community holding the id a new cluster of x and y would derive.
    previous = [Community(f"c0-{digest}", 0, ("p", "q", "r"), None)]
    clusters = [
        Cluster(0, ("p", "q", "r"), None),
        Cluster(0, twin, None),
        Cluster(0, ("z",), None),  # one entity: no community, nor for its children
        Cluster(1, ("p", "q"), 0),
        Cluster(1, ("z",), 2),
    ]

    communities = assign_ids(clusters, previous)

    ids = [c.id for c in communities]
    assert len(ids) == len(set(ids)) == len(kept_clusters(clusters)) == 3
    by_members = {c.members: c for c in communities}
    assert by_members[("p", "q", "r")].id == f"c0-{digest}"
    assert by_members[twin].id == f"c0-{digest}-1"
    assert by_members[("p", "q")].parent_id == f"c0-{digest}"
