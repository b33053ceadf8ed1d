"""In-memory GraphStore and VectorIndex: the reference behaviour, used by unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from coagent_graphstore import merging
from coagent_graphstore.core import Ident, RecordGraphStore
from coagent_graphstore.models import (
    Chunk,
    Community,
    Entity,
    GraphStats,
    MergeRecord,
    Relation,
    Scope,
    VectorHit,
    VectorItem,
    VectorKind,
)
from coagent_graphstore.vectors import check_query, check_vectors, cosine


@dataclass
class _Room:
    entities: dict[str, Entity] = field(default_factory=dict)
    relations: dict[Ident, Relation] = field(default_factory=dict)
    chunks: dict[str, Chunk] = field(default_factory=dict)
    communities: dict[str, Community] = field(default_factory=dict)
    merges: list[MergeRecord] = field(default_factory=list)


class MemoryGraphStore(RecordGraphStore):
    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}

    def _room(self, scope: Scope) -> _Room:
        return self._rooms.setdefault(scope.key, _Room())

    async def _resolve(self, scope: Scope, lookups: Sequence[str]) -> dict[str, str]:
        entities = self._room(scope).entities
        found = {k: k for k in lookups if k in entities}
        for entity in sorted(entities.values(), key=lambda e: e.key):
            for alias in merging.alias_keys(entity):
                if alias in lookups and alias not in found:
                    found[alias] = entity.key
        return found

    async def _get_entities(self, scope: Scope, keys: Sequence[str]) -> dict[str, Entity]:
        entities = self._room(scope).entities
        return {k: entities[k] for k in keys if k in entities}

    async def _put_entities(self, scope: Scope, entities: Sequence[Entity]) -> None:
        self._room(scope).entities.update((e.key, e) for e in entities)

    async def _drop_entities(self, scope: Scope, keys: Sequence[str]) -> None:
        room, gone = self._room(scope), set(keys)
        for key in gone:
            room.entities.pop(key, None)
        for ident in [i for i in room.relations if i[0] in gone or i[1] in gone]:
            del room.relations[ident]

    async def _get_relations(self, scope: Scope, idents: Sequence[Ident]) -> dict[Ident, Relation]:
        relations = self._room(scope).relations
        return {i: relations[i] for i in idents if i in relations}

    async def _relations_touching(
        self, scope: Scope, keys: Sequence[str], limit: int | None
    ) -> list[Relation]:
        wanted = set(keys)
        touching = [
            r for r in self._room(scope).relations.values() if {r.source, r.target} & wanted
        ]
        return merging.strongest_first(touching)[:limit]

    async def _relations_from(self, scope: Scope, keys: Sequence[str]) -> list[Relation]:
        wanted = set(keys)
        return [r for r in self._room(scope).relations.values() if r.source in wanted]

    async def _put_relations(self, scope: Scope, relations: Sequence[Relation]) -> None:
        self._room(scope).relations.update((r.ident, r) for r in relations)

    async def _drop_relations(self, scope: Scope, idents: Sequence[Ident]) -> None:
        for ident in idents:
            self._room(scope).relations.pop(ident, None)

    async def _entities_citing(self, scope: Scope, sources: Sequence[str]) -> list[Entity]:
        wanted = set(sources)
        return [e for e in self._room(scope).entities.values() if wanted & set(e.source_ids)]

    async def _relations_citing(self, scope: Scope, sources: Sequence[str]) -> list[Relation]:
        wanted = set(sources)
        return [
            r
            for r in self._room(scope).relations.values()
            if wanted & {e.source_id for e in r.evidence}
        ]

    async def _put_chunks(self, scope: Scope, chunks: Sequence[Chunk]) -> None:
        self._room(scope).chunks.update((c.id, c) for c in chunks)

    async def _get_chunks(self, scope: Scope, ids: Sequence[str]) -> dict[str, Chunk]:
        chunks = self._room(scope).chunks
        return {i: chunks[i] for i in ids if i in chunks}

    async def _chunks_mentioning(
        self, scope: Scope, keys: Sequence[str], limit: int
    ) -> list[Chunk]:
        wanted = set(keys)
        found = [c for c in self._room(scope).chunks.values() if wanted & set(c.mentions)]
        return sorted(found, key=lambda c: (c.position, c.id))[:limit]

    async def _drop_chunks_citing(self, scope: Scope, sources: Sequence[str]) -> int:
        chunks, wanted = self._room(scope).chunks, set(sources)
        gone = [i for i, c in chunks.items() if wanted & set(c.source_ids)]
        for chunk_id in gone:
            del chunks[chunk_id]
        return len(gone)

    async def _rename_mentions(self, scope: Scope, old: str, new: str) -> None:
        chunks = self._room(scope).chunks
        for chunk_id, c in list(chunks.items()):
            if old in c.mentions:
                mentions = tuple(dict.fromkeys(new if m == old else m for m in c.mentions))
                chunks[chunk_id] = Chunk(
                    c.id, c.text, c.message_ids, c.artifact_ids, mentions, c.position
                )

    async def _put_communities(self, scope: Scope, communities: Sequence[Community]) -> None:
        self._room(scope).communities = {c.id: c for c in communities}

    async def _get_communities(self, scope: Scope, level: int | None) -> list[Community]:
        found = self._room(scope).communities.values()
        chosen = [c for c in found if level is None or c.level == level]
        return sorted(chosen, key=lambda c: (c.level, c.id))

    async def _drop_reports_citing(self, scope: Scope, sources: Sequence[str]) -> list[str]:
        communities, wanted = self._room(scope).communities, set(sources)
        hit = [i for i, c in communities.items() if c.report and wanted & set(c.report.source_ids)]
        for cid in hit:
            c = communities[cid]
            communities[cid] = Community(c.id, c.level, c.members, c.parent_id, None)
        return sorted(hit)

    async def _append_merge(self, scope: Scope, record: MergeRecord) -> None:
        self._room(scope).merges.append(record)

    async def _get_merge_log(self, scope: Scope, limit: int) -> list[MergeRecord]:
        return list(reversed(self._room(scope).merges))[:limit]

    async def _page_entities(self, scope: Scope, offset: int, limit: int) -> list[Entity]:
        entities = self._room(scope).entities
        return [entities[k] for k in sorted(entities)[offset : offset + limit]]

    async def stats(self, scope: Scope) -> GraphStats:
        room = self._room(scope)
        return GraphStats(
            len(room.entities), len(room.relations), len(room.chunks), len(room.communities)
        )

    async def purge(self, scope: Scope) -> None:
        self._rooms.pop(scope.key, None)


class MemoryVectorIndex:
    """Brute-force cosine search over dicts; the reference for the vector conformance suite."""

    def __init__(self, dimension: int) -> None:
        self._dimension = dimension
        self._rooms: dict[str, dict[tuple[VectorKind, str], VectorItem]] = {}

    @property
    def dimension(self) -> int:
        return self._dimension

    async def upsert(self, scope: Scope, items: Sequence[VectorItem]) -> None:
        check_vectors(self._dimension, items)
        self._rooms.setdefault(scope.key, {}).update(((i.kind, i.id), i) for i in items)

    async def search(
        self,
        scope: Scope,
        vector: Sequence[float],
        *,
        k: int,
        kinds: Sequence[VectorKind] | None = None,
    ) -> list[VectorHit]:
        check_query(self._dimension, vector, k)
        items = self._rooms.get(scope.key, {}).values()
        chosen = [i for i in items if kinds is None or i.kind in kinds]
        hits = [
            VectorHit(i.id, i.kind, cosine(vector, i.vector), i.source_ids, i.text) for i in chosen
        ]
        return sorted(hits, key=lambda h: (-h.score, h.kind, h.id))[:k]

    async def delete(self, scope: Scope, kind: VectorKind, ids: Sequence[str]) -> None:
        room = self._rooms.get(scope.key, {})
        for item_id in ids:
            room.pop((kind, item_id), None)

    async def delete_sources(self, scope: Scope, source_ids: Sequence[str]) -> int:
        room, wanted = self._rooms.get(scope.key, {}), set(source_ids)
        gone = [key for key, item in room.items() if wanted & set(item.source_ids)]
        for key in gone:
            del room[key]
        return len(gone)

    async def purge(self, scope: Scope) -> None:
        self._rooms.pop(scope.key, None)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
