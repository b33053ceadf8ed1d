"""The two storage ports of GraphRAG. Every call names its Scope; nothing crosses partitions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from coagent_graphstore.models import (
    Chunk,
    Community,
    Entity,
    EntityMerge,
    EntityUpsert,
    ForgetReport,
    GraphPage,
    GraphStats,
    MergeRecord,
    Relation,
    RelationUpsert,
    Scope,
    Subgraph,
    Summary,
    VectorHit,
    VectorItem,
    VectorKind,
)


class GraphStore(Protocol):
    """Entities, relations, text units, communities and the merge log of each room.

    Writes are idempotent per source: upserting what a source said twice stores it once.
    The ingest service is the only writer and serialises writes per room.
    """

    async def upsert_entities(self, scope: Scope, entities: Sequence[EntityUpsert]) -> None:
        """Create or update entities (found by name or alias).

        A source's description replaces that source's last one; the type follows the latest
        upsert; the first spelling stays the display name and later ones become aliases.
        """
        ...

    async def upsert_relations(self, scope: Scope, relations: Sequence[RelationUpsert]) -> None:
        """Create or update relations; raises UnknownEntity if an endpoint does not exist."""
        ...

    async def upsert_chunks(self, scope: Scope, chunks: Sequence[Chunk]) -> None:
        """Create or replace text units by id."""
        ...

    async def replace_communities(self, scope: Scope, communities: Sequence[Community]) -> None:
        """Make ``communities`` (all levels, with their reports) the room's whole partition."""
        ...

    async def merge_entities(self, scope: Scope, merge: EntityMerge) -> MergeRecord:
        """Fold one entity into another (descriptions, aliases, relations, mentions); logged."""
        ...

    async def entity(self, scope: Scope, name: str) -> Entity | None:
        """The entity called ``name`` or having it as an alias (case and spacing ignored)."""
        ...

    async def entities(self, scope: Scope, names: Sequence[str]) -> list[Entity]:
        """The entities some of ``names`` resolve to, each once, in the order first named."""
        ...

    async def neighbourhood(
        self,
        scope: Scope,
        names: Sequence[str],
        *,
        hops: int = 1,
        max_entities: int = 50,
        max_relations: int = 100,
    ) -> Subgraph:
        """Seeds plus entities up to ``hops`` away, strongest relations first, within the caps."""
        ...

    async def relations(self, scope: Scope, keys: Sequence[str]) -> list[Relation]:
        """Every relation with an endpoint among these entity keys, ordered by ident."""
        ...

    async def page(self, scope: Scope, *, offset: int = 0, limit: int = 100) -> GraphPage:
        """One page of the room's graph for visualisation (entities ordered by key)."""
        ...

    async def chunks(self, scope: Scope, ids: Sequence[str]) -> list[Chunk]:
        """The text units with these ids, in the order asked, missing ones left out."""
        ...

    async def chunks_mentioning(
        self, scope: Scope, names: Sequence[str], *, limit: int
    ) -> list[Chunk]:
        """Up to ``limit`` text units mentioning any of the named entities, by position."""
        ...

    async def communities(self, scope: Scope, level: int | None = None) -> list[Community]:
        """The room's communities (of one level if given), ordered by level then id."""
        ...

    async def merge_log(self, scope: Scope, *, limit: int = 100) -> list[MergeRecord]:
        """The latest merges, newest first."""
        ...

    async def stats(self, scope: Scope) -> GraphStats:
        """How many entities, relations, chunks and communities the room has."""
        ...

    async def set_summaries(
        self,
        scope: Scope,
        entities: Mapping[str, Summary] | None = None,
        relations: Mapping[tuple[str, str, str], Summary] | None = None,
    ) -> None:
        """Store the summaries of entities (by key) and relations (by ident); missing ones skip.

        Nothing else changes; a summary stays until replaced or until forgetting removes one
        of the fragments it was made from.
        """
        ...

    async def forget_sources(self, scope: Scope, source_ids: Sequence[str]) -> ForgetReport:
        """Remove everything derived from these messages or artifacts.

        Descriptions and evidence of those sources go; entities and relations left without
        any source go; chunks containing them go; reports citing them are dropped.
        """
        ...

    async def purge(self, scope: Scope) -> None:
        """Delete the room's whole graph."""
        ...

    async def ping(self) -> None:
        """Raise unless the store answers (a readiness check)."""
        ...

    async def close(self) -> None: ...


class VectorIndex(Protocol):
    """Embeddings of chunks, entities and community reports, partitioned by Scope."""

    @property
    def dimension(self) -> int: ...

    async def upsert(self, scope: Scope, items: Sequence[VectorItem]) -> None:
        """Create or replace items by (kind, id)."""
        ...

    async def search(
        self,
        scope: Scope,
        vector: Sequence[float],
        *,
        k: int,
        kinds: Sequence[VectorKind] | None = None,
    ) -> list[VectorHit]:
        """The ``k`` items most similar to ``vector`` (cosine), best first."""
        ...

    async def delete(self, scope: Scope, kind: VectorKind, ids: Sequence[str]) -> None: ...

    async def delete_sources(self, scope: Scope, source_ids: Sequence[str]) -> int:
        """Delete every item derived from one of these sources; how many went."""
        ...

    async def purge(self, scope: Scope) -> None:
        """Delete the room's every vector."""
        ...

    async def ping(self) -> None:
        """Raise unless the index answers (a readiness check)."""
        ...

    async def close(self) -> None: ...
