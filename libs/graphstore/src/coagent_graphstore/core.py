"""GraphStore semantics written once over a handful of record-level primitives.

Adapters only say how records are kept (dicts, Cypher); resolution, per-source merging, caps,
merges and forgetting behave identically everywhere, which the conformance suite checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from coagent_graphstore import merging
from coagent_graphstore.errors import InvalidRecord, InvalidRequest, UnknownEntity
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
    entity_key,
)

Ident = tuple[str, str, str]
MAX_PAGE = 1000


def _positive(name: str, value: int, most: int = 10_000) -> None:
    if not 0 < value <= most:
        raise InvalidRequest(f"{name} must be between 1 and {most}, got {value}")


class RecordGraphStore(ABC):
    """Base of every GraphStore adapter."""

    # ---------------------------------------------------------------- primitives
    @abstractmethod
    async def _resolve(self, scope: Scope, lookups: Sequence[str]) -> dict[str, str]:
        """Lookup key → entity key, for lookups equal to an entity key or one of its aliases."""

    @abstractmethod
    async def _get_entities(self, scope: Scope, keys: Sequence[str]) -> dict[str, Entity]: ...

    @abstractmethod
    async def _put_entities(self, scope: Scope, entities: Sequence[Entity]) -> None: ...

    @abstractmethod
    async def _drop_entities(self, scope: Scope, keys: Sequence[str]) -> None:
        """Delete entities and every relation touching them."""

    @abstractmethod
    async def _get_relations(
        self, scope: Scope, idents: Sequence[Ident]
    ) -> dict[Ident, Relation]: ...

    @abstractmethod
    async def _relations_touching(
        self, scope: Scope, keys: Sequence[str], limit: int | None
    ) -> list[Relation]:
        """Relations with an endpoint in ``keys``, strongest first, at most ``limit``."""

    @abstractmethod
    async def _relations_from(self, scope: Scope, keys: Sequence[str]) -> list[Relation]: ...

    @abstractmethod
    async def _put_relations(self, scope: Scope, relations: Sequence[Relation]) -> None: ...

    @abstractmethod
    async def _drop_relations(self, scope: Scope, idents: Sequence[Ident]) -> None: ...

    @abstractmethod
    async def _entities_citing(self, scope: Scope, sources: Sequence[str]) -> list[Entity]: ...

    @abstractmethod
    async def _relations_citing(self, scope: Scope, sources: Sequence[str]) -> list[Relation]: ...

    @abstractmethod
    async def _put_chunks(self, scope: Scope, chunks: Sequence[Chunk]) -> None: ...

    @abstractmethod
    async def _get_chunks(self, scope: Scope, ids: Sequence[str]) -> dict[str, Chunk]: ...

    @abstractmethod
    async def _chunks_mentioning(
        self, scope: Scope, keys: Sequence[str], limit: int
    ) -> list[Chunk]: ...

    @abstractmethod
    async def _drop_chunks_citing(self, scope: Scope, sources: Sequence[str]) -> int: ...

    @abstractmethod
    async def _rename_mentions(self, scope: Scope, old: str, new: str) -> None: ...

    @abstractmethod
    async def _put_communities(self, scope: Scope, communities: Sequence[Community]) -> None:
        """Replace the room's communities with these."""

    @abstractmethod
    async def _get_communities(self, scope: Scope, level: int | None) -> list[Community]: ...

    @abstractmethod
    async def _drop_reports_citing(self, scope: Scope, sources: Sequence[str]) -> list[str]:
        """Remove the reports citing any of ``sources``; the ids of their communities."""

    @abstractmethod
    async def _append_merge(self, scope: Scope, record: MergeRecord) -> None: ...

    @abstractmethod
    async def _get_merge_log(self, scope: Scope, limit: int) -> list[MergeRecord]: ...

    @abstractmethod
    async def _page_entities(self, scope: Scope, offset: int, limit: int) -> list[Entity]: ...

    @abstractmethod
    async def stats(self, scope: Scope) -> GraphStats: ...

    @abstractmethod
    async def purge(self, scope: Scope) -> None: ...

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # ---------------------------------------------------------------- writes
    async def upsert_entities(self, scope: Scope, entities: Sequence[EntityUpsert]) -> None:
        if not entities:
            return
        found = await self._resolve(scope, [entity_key(e.name) for e in entities])
        current = await self._get_entities(scope, list(set(found.values())))
        changed: dict[str, Entity] = {}
        for change in entities:
            key = found.get(entity_key(change.name), entity_key(change.name))
            entity = merging.upsert_entity(changed.get(key) or current.get(key), change)
            changed[entity.key] = entity
        await self._put_entities(scope, list(changed.values()))

    async def upsert_relations(self, scope: Scope, relations: Sequence[RelationUpsert]) -> None:
        if not relations:
            return
        ends = await self._resolve_all(scope, [n for r in relations for n in (r.source, r.target)])
        for r in relations:
            if not r.relation.strip():
                raise InvalidRecord("relation type must not be blank")
            if ends[entity_key(r.source)] == ends[entity_key(r.target)]:
                raise InvalidRecord(f"relation {r.relation!r} links {r.source!r} to itself")
        idents = [
            (ends[entity_key(r.source)], ends[entity_key(r.target)], r.relation) for r in relations
        ]
        current = await self._get_relations(scope, list(set(idents)))
        changed: dict[Ident, Relation] = {}
        for ident, change in zip(idents, relations, strict=True):
            existing = changed.get(ident) or current.get(ident)
            changed[ident] = merging.upsert_relation(existing, ident[0], ident[1], change)
        await self._put_relations(scope, list(changed.values()))

    async def upsert_chunks(self, scope: Scope, chunks: Sequence[Chunk]) -> None:
        stored = [
            Chunk(c.id, c.text, c.message_ids, c.artifact_ids,
                  tuple(dict.fromkeys(entity_key(m) for m in c.mentions)), c.position)
            for c in chunks
        ]  # fmt: skip
        if stored:
            await self._put_chunks(scope, stored)

    async def replace_communities(self, scope: Scope, communities: Sequence[Community]) -> None:
        ids = [c.id for c in communities]
        if len(set(ids)) != len(ids):
            raise InvalidRecord("community ids must be unique")
        await self._put_communities(scope, communities)

    async def merge_entities(self, scope: Scope, merge: EntityMerge) -> MergeRecord:
        ends = await self._resolve_all(scope, [merge.merged, merge.into])
        old, new = ends[entity_key(merge.merged)], ends[entity_key(merge.into)]
        if old == new:
            raise InvalidRecord(f"{merge.merged!r} and {merge.into!r} are already one entity")
        both = await self._get_entities(scope, [old, new])
        moved = await self._relations_touching(scope, [old], None)
        targets: dict[Ident, Relation] = {}
        for relation in moved:
            r = merging.repoint(relation, old, new)
            if r.source != r.target:
                targets[r.ident] = merging.fold_relation(targets.get(r.ident), r)
        existing = await self._get_relations(scope, list(targets))
        folded = [merging.fold_relation(existing.get(i), r) for i, r in targets.items()]
        await self._drop_entities(scope, [old])
        await self._put_entities(scope, [merging.fold_entity(both[new], both[old])])
        await self._put_relations(scope, folded)
        await self._rename_mentions(scope, old, new)
        record = MergeRecord(old, both[old].name, new, merge.reason, datetime.now(UTC))
        await self._append_merge(scope, record)
        return record

    async def set_summaries(
        self,
        scope: Scope,
        entities: Mapping[str, Summary] | None = None,
        relations: Mapping[Ident, Summary] | None = None,
    ) -> None:
        entities, relations = entities or {}, relations or {}
        if entities:
            found = await self._get_entities(scope, list(entities))
            await self._put_entities(
                scope, [merging.summarised(e, entities[k]) for k, e in found.items()]
            )
        if relations:
            current = await self._get_relations(scope, list(relations))
            await self._put_relations(
                scope, [merging.relation_summarised(r, relations[i]) for i, r in current.items()]
            )

    async def forget_sources(self, scope: Scope, source_ids: Sequence[str]) -> ForgetReport:
        sources = frozenset(source_ids)
        if not sources:
            return ForgetReport()
        relations = [
            merging.relation_without_sources(r, sources)
            for r in await self._relations_citing(scope, list(sources))
        ]
        await self._drop_relations(scope, [r.ident for r in relations if not r.evidence])
        await self._put_relations(scope, [r for r in relations if r.evidence])
        entities = [
            merging.without_sources(e, sources)
            for e in await self._entities_citing(scope, list(sources))
        ]
        emptied = [e.key for e in entities if not e.descriptions]
        # An entity no source describes any more still exists while other sources relate it.
        linked = {
            k
            for r in await self._relations_touching(scope, emptied, None)
            for k in (r.source, r.target)
        }
        removed = [k for k in emptied if k not in linked]
        await self._drop_entities(scope, removed)
        await self._put_entities(scope, [e for e in entities if e.key not in removed])
        return ForgetReport(
            removed_entities=tuple(sorted(removed)),
            changed_entities=tuple(sorted(e.key for e in entities if e.key not in removed)),
            removed_relations=sum(1 for r in relations if not r.evidence),
            changed_relations=tuple(sorted(r.ident for r in relations if r.evidence)),
            removed_chunks=await self._drop_chunks_citing(scope, list(sources)),
            invalidated_communities=tuple(await self._drop_reports_citing(scope, list(sources))),
        )

    # ---------------------------------------------------------------- reads
    async def entity(self, scope: Scope, name: str) -> Entity | None:
        found = await self.entities(scope, [name])
        return found[0] if found else None

    async def entities(self, scope: Scope, names: Sequence[str]) -> list[Entity]:
        keys = await self._keys(scope, names)
        loaded = await self._get_entities(scope, keys)
        return [loaded[k] for k in keys if k in loaded]

    async def neighbourhood(
        self,
        scope: Scope,
        names: Sequence[str],
        *,
        hops: int = 1,
        max_entities: int = 50,
        max_relations: int = 100,
    ) -> Subgraph:
        _positive("hops", hops, 3)
        _positive("max_entities", max_entities)
        _positive("max_relations", max_relations)
        keys = (await self._keys(scope, names))[:max_entities]
        members, frontier = list(keys), list(keys)
        kept: dict[Ident, Relation] = {}
        for _ in range(hops):
            if not frontier:
                break
            added: list[str] = []
            for r in await self._relations_touching(scope, frontier, max_relations):
                for end in (r.source, r.target):
                    if end not in members and len(members) < max_entities:
                        members.append(end)
                        added.append(end)
                if r.source in members and r.target in members and len(kept) < max_relations:
                    kept.setdefault(r.ident, r)
            frontier = added
        loaded = await self._get_entities(scope, members)
        return Subgraph(
            entities=tuple(loaded[k] for k in members if k in loaded),
            relations=tuple(merging.strongest_first(kept.values())),
        )

    async def relations(self, scope: Scope, keys: Sequence[str]) -> list[Relation]:
        if not keys:
            return []
        found = await self._relations_touching(scope, list(dict.fromkeys(keys)), None)
        return sorted(found, key=lambda r: r.ident)

    async def page(self, scope: Scope, *, offset: int = 0, limit: int = 100) -> GraphPage:
        _positive("limit", limit, MAX_PAGE)
        if offset < 0:
            raise InvalidRequest(f"offset must not be negative, got {offset}")
        entities = await self._page_entities(scope, offset, limit)
        relations = await self._relations_from(scope, [e.key for e in entities])
        total = (await self.stats(scope)).entities
        end = offset + len(entities)
        return GraphPage(
            entities=tuple(entities),
            relations=tuple(sorted(relations, key=lambda r: r.ident)),
            total_entities=total,
            next_offset=end if end < total else None,
        )

    async def chunks(self, scope: Scope, ids: Sequence[str]) -> list[Chunk]:
        found = await self._get_chunks(scope, list(dict.fromkeys(ids)))
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    async def chunks_mentioning(
        self, scope: Scope, names: Sequence[str], *, limit: int
    ) -> list[Chunk]:
        _positive("limit", limit, MAX_PAGE)
        keys = await self._keys(scope, names)
        return await self._chunks_mentioning(scope, keys, limit) if keys else []

    async def communities(self, scope: Scope, level: int | None = None) -> list[Community]:
        return await self._get_communities(scope, level)

    async def merge_log(self, scope: Scope, *, limit: int = 100) -> list[MergeRecord]:
        _positive("limit", limit, MAX_PAGE)
        return await self._get_merge_log(scope, limit)

    # ---------------------------------------------------------------- helpers
    async def _keys(self, scope: Scope, names: Sequence[str]) -> list[str]:
        lookups = [k for k in (_lookup(n) for n in names) if k]
        found = await self._resolve(scope, lookups) if lookups else {}
        return list(dict.fromkeys(found[k] for k in lookups if k in found))

    async def _resolve_all(self, scope: Scope, names: Sequence[str]) -> dict[str, str]:
        lookups = list(dict.fromkeys(entity_key(n) for n in names))
        found = await self._resolve(scope, lookups)
        missing = [k for k in lookups if k not in found]
        if missing:
            raise UnknownEntity(f"no entity named {', '.join(map(repr, missing))} in this room")
        return found


def _lookup(name: str) -> str:
    """Like entity_key, but a blank name in a read simply matches nothing."""
    try:
        return entity_key(name)
    except InvalidRecord:
        return ""
