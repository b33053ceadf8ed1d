"""Hierarchical communities of a room's entity graph, with ids that survive rebuilds (pure).

The graph is made undirected and weighted: every relation between two entities, whatever its
direction or type, adds its weight (the sum of its evidence weights) to the pair. Hierarchical
Leiden (``graspologic_native``, with a fixed seed, so the same graph gives the same partition)
splits it: level 0 holds the coarsest clusters and every cluster larger than ``max_cluster_size``
is split again one level down. The run is deliberately not seeded with the previous partition:
a seeded run can land on another partition of an unchanged graph, and an unchanged room must
keep every community (and report) it has.

Ids are decided afterwards by overlap with the previous communities of the same level: an
unchanged cluster keeps its id, a cluster that mostly persisted keeps it too, and a new one gets
an id derived from its members.

Inputs read from a store are made canonical first: relations are taken in identity order and
weights are summed exactly (``math.fsum``) after rounding them to ``WEIGHT_DIGITS`` significant
digits, because stores hand values back differently (FalkorDB returns doubles with 15
significant digits, the memory store the exact value; and no store promises an order). The same
graph then gives the same partition and ids whichever store it came from.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import graspologic_native as gn  # type: ignore[import-untyped]  # ships no stubs

from coagent_graphstore.models import Community, Relation

#: Leiden's seed: fixed, so clustering is reproducible.
SEED = 0xC0A6E
#: Share of members (Jaccard) a new cluster must have in common with an old one to inherit its id.
MIN_OVERLAP = 0.34
#: Clusters smaller than this carry no community (a lone pair says nothing a report could add).
MIN_MEMBERS = 2
#: Significant digits a weight keeps: fewer than any store returns (FalkorDB returns 15).
WEIGHT_DIGITS = 12


@dataclass(frozen=True, slots=True)
class Cluster:
    """A cluster before it has an id: its level, members (sorted keys) and parent cluster."""

    level: int
    members: tuple[str, ...]
    parent: int | None  # index into the same list of clusters


def canonical_weight(value: float) -> float:
    """``value`` rounded to ``WEIGHT_DIGITS`` significant digits: the same whether a store kept
    17 digits or 15 (short of a value whose 13th to 15th digits are exactly 499…)."""
    return float(f"{value:.{WEIGHT_DIGITS}g}")


def relation_weight(relation: Relation) -> float:
    """The relation's weight from canonical evidence weights, summed independently of order."""
    return canonical_weight(math.fsum(canonical_weight(e.weight) for e in relation.evidence))


def canonical_relations(relations: Iterable[Relation]) -> list[Relation]:
    """``relations`` in identity order, one per identity (the last read wins, as in a dict)."""
    return sorted({r.ident: r for r in relations}.values(), key=lambda r: r.ident)


def undirected_edges(relations: Iterable[Relation]) -> list[tuple[str, str, float]]:
    """One weighted edge per entity pair, in a canonical order (the input of Leiden)."""
    weights: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in canonical_relations(relations):
        if r.source == r.target:
            continue
        pair = (r.source, r.target) if r.source < r.target else (r.target, r.source)
        weights[pair].append(max(relation_weight(r), 0.0) or 1.0)
    return [(a, b, canonical_weight(math.fsum(w))) for (a, b), w in sorted(weights.items())]


def cluster(
    edges: Sequence[tuple[str, str, float]],
    *,
    max_cluster_size: int,
) -> list[Cluster]:
    """Hierarchical Leiden over ``edges``: clusters by level, each with its parent's index."""
    if not edges:
        return []
    rows = gn.hierarchical_leiden(
        list(edges),
        max_cluster_size=max_cluster_size,
        seed=SEED,
        iterations=2,
    )
    members: dict[tuple[int, int], list[str]] = defaultdict(list)
    parents: dict[tuple[int, int], int | None] = {}
    for row in rows:
        members[(row.level, row.cluster)].append(row.node)
        parents[(row.level, row.cluster)] = row.parent_cluster
    # A deterministic order: by level, then by smallest member.
    keys = sorted(members, key=lambda k: (k[0], min(members[k])))
    index = {k: i for i, k in enumerate(keys)}
    found: list[Cluster] = []
    for level, cid in keys:
        parent = parents[(level, cid)]
        found.append(Cluster(
            level,
            tuple(sorted(members[(level, cid)])),
            index.get((level - 1, parent)) if parent is not None else None,
        ))  # fmt: skip
    return found


def assign_ids(clusters: Sequence[Cluster], previous: Sequence[Community]) -> list[Community]:
    """Communities for ``clusters``: ids inherited by overlap, else derived from the members.

    Clusters below ``MIN_MEMBERS`` are left out (and so are their children) before any id is
    decided, so a dropped cluster never takes an old id from one that stays. Ids are unique
    within the room: one community per id, whatever its level.
    """
    kept = kept_clusters(clusters)
    ids: dict[int, str] = {}
    for level in sorted({clusters[i].level for i in kept}):
        at_level = [i for i in kept if clusters[i].level == level]
        ids |= _inherit(clusters, at_level, [c for c in previous if c.level == level])
    taken = set(ids.values())
    for i in kept:
        if i not in ids:
            ids[i] = _fresh_id(clusters[i], taken)
            taken.add(ids[i])
    return [
        Community(ids[i], clusters[i].level, clusters[i].members, _parent_id(clusters[i], ids))
        for i in kept
    ]


def kept_clusters(clusters: Sequence[Cluster]) -> list[int]:
    """Indices of the clusters that carry a community (parents come before their children)."""
    kept: set[int] = set()
    for i, c in enumerate(clusters):
        if len(c.members) >= MIN_MEMBERS and (c.parent is None or c.parent in kept):
            kept.add(i)
    return sorted(kept)


def _parent_id(c: Cluster, ids: dict[int, str]) -> str | None:
    return None if c.parent is None else ids[c.parent]


def _inherit(
    clusters: Sequence[Cluster], indices: Sequence[int], old: Sequence[Community]
) -> dict[int, str]:
    """Greedy best-overlap matching of new clusters to old communities of one level."""
    pairs: list[tuple[float, str, int]] = []
    for i in indices:
        mine = set(clusters[i].members)
        for community in old:
            theirs = set(community.members)
            shared = len(mine & theirs)
            if shared:
                pairs.append((shared / len(mine | theirs), community.id, i))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    taken: set[str] = set()
    ids: dict[int, str] = {}
    for jaccard, old_id, i in pairs:
        if jaccard < MIN_OVERLAP or old_id in taken or i in ids:
            continue
        ids[i] = old_id
        taken.add(old_id)
    return ids


def _fresh_id(c: Cluster, taken: set[str]) -> str:
    digest = hashlib.sha256("\x1f".join(c.members).encode()).hexdigest()
    candidate = f"c{c.level}-{digest[:10]}"
    n = 1
    while candidate in taken:  # an inherited id, or a cluster with the same members
        candidate = f"c{c.level}-{digest[:10]}-{n}"
        n += 1
    return candidate


def partition(
    relations: Sequence[Relation], previous: Sequence[Community], *, max_cluster_size: int
) -> list[Community]:
    """The room's new communities (without reports) given its relations and old communities."""
    clusters = cluster(undirected_edges(relations), max_cluster_size=max_cluster_size)
    return assign_ids(clusters, previous)
