"""One ingest pass over a room: chunk, extract what changed, write, resolve, embed, summarise.

Cost is proportional to what changed: every chunk has a delta key (prompt version, extractor,
source ids, text); chunks whose key is already in the ledger are neither extracted nor written
again, so re-ingesting an unchanged room makes no extraction call and one new message costs at
most one (the last chunk, which it grew or opened). Keys are recorded only after the chunk's
facts and vectors are written, so a pass that fails halfway is simply redone.

Passes and forgetting of one room never overlap (the scheduler serialises them): the store's
per-source read-modify-write relies on a single writer per room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from coagent_graphrag_ingest.adjudication import Adjudicator, OfflineAdjudicator
from coagent_graphrag_ingest.cascade import EntityResolver, Resolution, ResolutionPolicy
from coagent_graphrag_ingest.chunking import TextChunk, chunk_sources
from coagent_graphrag_ingest.extraction import (
    ExtractedEntity,
    Extraction,
    extraction_key,
    normal_type,
    sentence_about,
    turn_for_relation,
    turns_for_entity,
)
from coagent_graphrag_ingest.ports import Embedder, Extractor, UnitOfWork, UnitOfWorkFactory
from coagent_graphrag_ingest.resolution import choose_type
from coagent_graphrag_ingest.service import ingest_completed
from coagent_graphrag_ingest.summaries import DescriptionSummaries, OfflineSummariser, Summariser
from coagent_graphstore.models import (
    Chunk,
    Entity,
    EntityUpsert,
    ForgetReport,
    RelationUpsert,
    Scope,
    VectorItem,
    entity_key,
)
from coagent_graphstore.ports import GraphStore, VectorIndex
from coagent_kit.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one pass did; ``errors`` are chunks whose extraction failed (retried next pass)."""

    chunks: int
    extracted: int
    entities: int
    relations: int
    merges: int
    last_seq: int
    errors: tuple[str, ...] = field(default=())
    #: Entities and relations whose changed fragments went to the summariser.
    summarised: int = 0


@dataclass(frozen=True, slots=True)
class _Plan:
    chunks: int
    keys: dict[str, str]  # chunk id -> delta key
    todo: list[TextChunk]
    stale: list[str]  # chunk ids extracted before that chunking no longer produces
    jobs: list[str]  # pending jobs this pass covers
    last_seq: int


class RoomIngestor:
    """Reads a room's sources from the unit of work, writes its graph through the ports."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        graph: GraphStore,
        vectors: VectorIndex,
        embedder: Embedder,
        extractor: Extractor,
        *,
        max_chars: int,
        resolution: ResolutionPolicy | None = None,
        adjudicator: Adjudicator | None = None,
        summariser: Summariser | None = None,
        summary_batch: int = 10,
    ) -> None:
        if embedder.dimension != vectors.dimension:
            raise ValueError(
                f"embedder makes {embedder.dimension}-d vectors, "
                f"the index holds {vectors.dimension}"
            )
        self._uow = unit_of_work
        self._graph = graph
        self._vectors = vectors
        self._embedder = embedder
        self._extractor = extractor
        self._max_chars = max_chars
        self.resolver = EntityResolver(
            graph, vectors, adjudicator or OfflineAdjudicator(), self._embed_entities, resolution
        )
        self.summaries = DescriptionSummaries(
            graph, summariser or OfflineSummariser(), batch=summary_batch
        )

    async def ingest(self, room_id: str) -> PassReport:
        """Bring the room's graph up to date with its stored sources."""
        scope = Scope(room_id)
        plan = await self._plan(scope)
        written, touched, relations, errors = await self._extract(scope, plan.todo)
        resolution = await self._resolve(scope, touched)
        merges = resolution.merges
        alive = (touched | {into for _, into in merges}) - {merged for merged, _ in merges}
        await self._embed_chunks(scope, written)
        await self._embed_entities(scope, sorted(alive - resolution.embedded))
        summarised = await self.summaries.refresh(scope, sorted(alive))
        if merges:
            await self._vectors.delete(scope, "entity", [merged for merged, _ in merges])
        if plan.stale:
            await self._vectors.delete(scope, "chunk", plan.stale)
        report = PassReport(
            chunks=plan.chunks,
            extracted=len(written),
            entities=len(alive),
            relations=relations,
            merges=len(merges),
            last_seq=plan.last_seq,
            errors=tuple(errors),
            summarised=summarised,
        )
        async with self._uow() as uow:
            await uow.extractions.forget_chunks(room_id, plan.stale)
            await uow.extractions.record(room_id, [(plan.keys[c.id], c.id) for c in written])
            await self._finish_jobs(uow, room_id, plan.jobs, report)
            await uow.commit()
        return report

    async def _plan(self, scope: Scope) -> _Plan:
        """Chunk the room and pick the chunks whose extraction is not in the graph yet."""
        room_id = scope.room_id
        async with self._uow() as uow:
            sources = await uow.sources.for_room(room_id)
            chunks = chunk_sources(sources, self._max_chars)
            keys = {c.id: extraction_key(self._extractor.version, c) for c in chunks}
            known = await uow.extractions.known(room_id, list(keys.values()))
            previous = await uow.extractions.chunk_ids(room_id)
            jobs = await uow.jobs.pending_ids(room_id)
        # The ledger only counts if the graph still holds the chunk (a purged or restored store
        # must be refilled, not trusted).
        claimed = [c.id for c in chunks if keys[c.id] in known]
        present = {c.id for c in await self._graph.chunks(scope, claimed)} if claimed else set()
        todo = [c for c in chunks if c.id not in present]
        # A new artifact revision replaces the old one wholly: forget it, extract all its parts.
        revised = {a for c in todo for a in c.artifact_ids}
        if revised:
            await self.forget(room_id, sorted(revised))
            todo = [c for c in chunks if c.id not in present or revised & set(c.artifact_ids)]
        return _Plan(
            chunks=len(chunks),
            keys=keys,
            todo=todo,
            stale=sorted(previous - set(keys)),
            jobs=jobs,
            last_seq=max((s.seq for s in sources), default=0),
        )

    async def _extract(
        self, scope: Scope, todo: Sequence[TextChunk]
    ) -> tuple[list[TextChunk], set[str], int, list[str]]:
        """Extract and write each chunk: written chunks, touched keys, relations, errors."""
        written: list[TextChunk] = []
        touched: set[str] = set()
        errors: list[str] = []
        relations = 0
        for chunk in todo:
            try:
                extraction = await self._extractor.extract(chunk)
            except Exception as exc:  # one bad chunk must not stop the room
                log.warning("extraction_failed", room_id=scope.room_id, chunk_id=chunk.id,
                            error=str(exc))  # fmt: skip
                errors.append(f"{chunk.id}: {exc}")
                continue
            names, count = await self._write_chunk(scope, chunk, extraction)
            touched |= names
            relations += count
            written.append(chunk)
        return written, touched, relations, errors

    @staticmethod
    async def _finish_jobs(
        uow: UnitOfWork, room_id: str, job_ids: list[str], report: PassReport
    ) -> None:
        """Settle the jobs this pass covered and announce each outcome (counts on the last)."""
        error = "; ".join(report.errors)[:1000] or None
        finished = await uow.jobs.finish(room_id, job_ids, "failed" if error else "succeeded")
        for index, job in enumerate(finished):
            last = index == len(finished) - 1
            await uow.publish(ingest_completed(
                job, entities=report.entities if last else 0,
                relations=report.relations if last else 0,
                chunks=report.extracted if last else 0, error=error,
            ))  # fmt: skip

    async def forget(self, room_id: str, source_ids: Sequence[str]) -> ForgetReport:
        """Remove what these sources contributed: facts, chunks and every derived vector."""
        scope = Scope(room_id)
        report = await self._graph.forget_sources(scope, source_ids)
        await self._vectors.delete_sources(scope, source_ids)
        # Entities that keep other sources lost their vector with the forgotten one; redo it.
        await self._embed_entities(scope, list(report.changed_entities))
        # Their summaries (cleared by the store) and those of relations that lost evidence.
        ends = {k for ident in report.changed_relations for k in ident[:2]}
        await self.summaries.refresh(scope, sorted(set(report.changed_entities) | ends))
        return report

    # ------------------------------------------------------------------ writing
    async def _write_chunk(
        self, scope: Scope, chunk: TextChunk, extraction: Extraction
    ) -> tuple[set[str], int]:
        """Upsert the chunk's entities, relations and text unit; the entity keys touched."""
        entities = _with_relation_ends(extraction)
        existing = _by_name(await self._graph.entities(scope, [e.name for e in entities]))
        upserts: dict[tuple[str, str], EntityUpsert] = {}
        for entity in entities:
            current = existing.get(entity_key(entity.name))
            kind = choose_type(current.type if current else None, normal_type(entity.type))
            for turn in turns_for_entity(chunk, entity.name):
                description = entity.description.strip() or sentence_about(turn, entity.name)
                upserts.setdefault(
                    (entity_key(entity.name), turn.source_id),
                    EntityUpsert(entity.name, kind, turn.source_id, description),
                )
        await self._graph.upsert_entities(scope, list(upserts.values()))
        resolved = _by_name(await self._graph.entities(scope, [e.name for e in entities]))
        relations = self._relations(chunk, extraction, resolved)
        await self._graph.upsert_relations(scope, relations)
        mentions = tuple(dict.fromkeys(resolved[entity_key(e.name)].name for e in entities
                                       if entity_key(e.name) in resolved))  # fmt: skip
        await self._graph.upsert_chunks(
            scope,
            [Chunk(chunk.id, chunk.text, chunk.message_ids, chunk.artifact_ids, mentions,
                   chunk.position)],
        )  # fmt: skip
        return {e.key for e in resolved.values()}, len(relations)

    @staticmethod
    def _relations(
        chunk: TextChunk, extraction: Extraction, resolved: dict[str, Entity]
    ) -> list[RelationUpsert]:
        found: dict[tuple[str, str, str, str], RelationUpsert] = {}
        for r in extraction.relations:
            ends = (resolved.get(entity_key(r.source)), resolved.get(entity_key(r.target)))
            if ends[0] is None or ends[1] is None or ends[0].key == ends[1].key:
                continue  # a self-loop after alias resolution says nothing
            turn = turn_for_relation(chunk, r)
            relation = normal_type(r.relation)
            evidence = r.evidence.strip() or sentence_about(turn, r.target)
            found.setdefault(
                (ends[0].key, ends[1].key, relation, turn.source_id),
                RelationUpsert(ends[0].key, ends[1].key, relation, turn.source_id,
                               evidence[:400], r.strength or 1.0),
            )  # fmt: skip
        return list(found.values())

    # ---------------------------------------------------------------- resolution
    async def _resolve(self, scope: Scope, touched: set[str]) -> Resolution:
        """Fold touched entities into same-typed duplicates (the cascade in ``cascade.py``)."""
        return await self.resolver.resolve(scope, touched)

    # ----------------------------------------------------------------- vectors
    async def _embed_chunks(self, scope: Scope, chunks: Sequence[TextChunk]) -> None:
        if not chunks:
            return
        vectors = self._embedder.embed([c.text for c in chunks])
        await self._vectors.upsert(
            scope,
            [VectorItem(c.id, "chunk", tuple(v), c.source_ids, c.text)
             for c, v in zip(chunks, vectors, strict=True)],
        )  # fmt: skip

    async def _embed_entities(self, scope: Scope, keys: Sequence[str]) -> dict[str, list[float]]:
        """One vector per entity (id = its key), citing every source it rests on; the vectors."""
        if not keys:
            return {}
        entities = await self._graph.entities(scope, keys)
        if not entities:
            return {}
        texts = [entity_text(e) for e in entities]
        vectors = self._embedder.embed(texts)
        await self._vectors.upsert(
            scope,
            [VectorItem(e.key, "entity", tuple(v), tuple(dict.fromkeys(e.source_ids)), t)
             for e, v, t in zip(entities, vectors, texts, strict=True)],
        )  # fmt: skip
        return {e.key: v for e, v in zip(entities, vectors, strict=True)}


def entity_text(entity: Entity) -> str:
    """What an entity's vector embeds: name, type, aliases and its per-source descriptions."""
    aliases = f" (also {', '.join(entity.aliases)})" if entity.aliases else ""
    facts = " ".join(dict.fromkeys(d.text for d in entity.descriptions if d.text))
    return f"{entity.name}{aliases} [{entity.type}]: {facts}".strip()


def _with_relation_ends(extraction: Extraction) -> list[ExtractedEntity]:
    """Declared entities plus any relation end the extractor forgot to declare, each once."""
    found: dict[str, ExtractedEntity] = {}
    for entity in extraction.entities:
        if entity.name.strip():
            found.setdefault(entity_key(entity.name), entity)
    for r in extraction.relations:
        for name in (r.source, r.target):
            if name.strip():
                found.setdefault(entity_key(name), ExtractedEntity(name=name))
    return list(found.values())


def _by_name(entities: Sequence[Entity]) -> dict[str, Entity]:
    """Lookup of entities by the normalised form of their names and aliases."""
    index: dict[str, Entity] = {}
    for entity in entities:
        index[entity.key] = entity
        for alias in entity.aliases:
            index.setdefault(entity_key(alias), entity)
    return index
