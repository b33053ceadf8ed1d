"""GraphStore over openCypher, shared by FalkorDB and Neo4j.

Statements are constants and every value travels as a parameter; the runner decides where a
scope's statements run (a graph per room on FalkorDB, one database on Neo4j). Every node and
edge also carries the scope key in ``room`` and every statement filters on it, so isolation
never rests on one mechanism alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from coagent_graphstore import merging
from coagent_graphstore.core import Ident, RecordGraphStore
from coagent_graphstore.models import (
    Chunk,
    Community,
    CommunityReport,
    Entity,
    Evidence,
    Finding,
    GraphStats,
    MergeRecord,
    Relation,
    Scope,
    SourcedText,
    Summary,
)

Row = list[Any]
#: Stands for "no limit" in statements that always take one.
UNLIMITED = 1_000_000_000


class CypherRunner(Protocol):
    async def read(self, scope: Scope, query: str, params: dict[str, Any]) -> list[Row]: ...

    async def write(self, scope: Scope, query: str, params: dict[str, Any]) -> list[Row]: ...

    async def purge(self, scope: Scope) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


_ENTITY = "e.key, e.name, e.type, e.aliases, e.desc_sources, e.desc_texts, e.summary, e.summary_of"
_RELATION = (
    "a.key, b.key, r.relation, r.ev_sources, r.ev_texts, r.ev_weights, r.summary, r.summary_of"
)
_REL_MATCH = "MATCH (a:Entity {room: $room})-[r:RELATES]->(b:Entity {room: $room})"
_CHUNK = "c.id, c.text, c.message_ids, c.artifact_ids, c.mentions, c.position"
_COMMUNITY = "c.id, c.level, c.members, c.parent_id, c.report"

RESOLVE_KEYS = "UNWIND $lookups AS k MATCH (e:Entity {room: $room, key: k}) RETURN k, e.key"
# One pass over the room for the lookups that are nobody's key (aliases are not indexed).
RESOLVE_ALIASES = """
MATCH (e:Entity {room: $room}) WHERE any(a IN e.alias_keys WHERE a IN $lookups)
UNWIND [a IN e.alias_keys WHERE a IN $lookups] AS k
RETURN k, e.key ORDER BY e.key"""
GET_ENTITIES = f"UNWIND $keys AS k MATCH (e:Entity {{room: $room, key: k}}) RETURN {_ENTITY}"
PUT_ENTITIES = """
UNWIND $rows AS row
MERGE (e:Entity {room: $room, key: row.key})
SET e.name = row.name, e.type = row.type, e.aliases = row.aliases, e.alias_keys = row.alias_keys,
    e.desc_sources = row.desc_sources, e.desc_texts = row.desc_texts, e.summary = row.summary,
    e.summary_of = row.summary_of"""
DROP_ENTITIES = "UNWIND $keys AS k MATCH (e:Entity {room: $room, key: k}) DETACH DELETE e"
ENTITIES_CITING = f"""
MATCH (e:Entity {{room: $room}}) WHERE any(s IN e.desc_sources WHERE s IN $sources)
RETURN {_ENTITY}"""
PAGE_ENTITIES = f"""
MATCH (e:Entity {{room: $room}}) RETURN {_ENTITY} ORDER BY e.key SKIP $offset LIMIT $limit"""

GET_RELATIONS = f"""
UNWIND $idents AS i
MATCH (a:Entity {{room: $room, key: i.source}})-[r:RELATES {{relation: i.relation}}]->
      (b:Entity {{room: $room, key: i.target}})
RETURN {_RELATION}"""
RELATIONS_TOUCHING = f"""
{_REL_MATCH} WHERE a.key IN $keys OR b.key IN $keys
RETURN {_RELATION} ORDER BY r.weight DESC, a.key, b.key, r.relation LIMIT $limit"""
RELATIONS_FROM = f"{_REL_MATCH} WHERE a.key IN $keys RETURN {_RELATION}"
RELATIONS_CITING = f"""
{_REL_MATCH} WHERE any(s IN r.ev_sources WHERE s IN $sources) RETURN {_RELATION}"""
PUT_RELATIONS = """
UNWIND $rows AS row
MATCH (a:Entity {room: $room, key: row.source}), (b:Entity {room: $room, key: row.target})
MERGE (a)-[r:RELATES {relation: row.relation}]->(b)
SET r.room = $room, r.ev_sources = row.ev_sources, r.ev_texts = row.ev_texts,
    r.ev_weights = row.ev_weights, r.weight = row.weight, r.summary = row.summary,
    r.summary_of = row.summary_of"""
DROP_RELATIONS = """
UNWIND $idents AS i
MATCH (a:Entity {room: $room, key: i.source})-[r:RELATES {relation: i.relation}]->
      (b:Entity {room: $room, key: i.target})
DELETE r"""

PUT_CHUNKS = """
UNWIND $rows AS row
MERGE (c:Chunk {room: $room, id: row.id})
SET c.text = row.text, c.message_ids = row.message_ids, c.artifact_ids = row.artifact_ids,
    c.source_ids = row.message_ids + row.artifact_ids, c.mentions = row.mentions,
    c.position = row.position"""
GET_CHUNKS = f"UNWIND $ids AS i MATCH (c:Chunk {{room: $room, id: i}}) RETURN {_CHUNK}"
CHUNKS_MENTIONING = f"""
MATCH (c:Chunk {{room: $room}}) WHERE any(m IN c.mentions WHERE m IN $keys)
RETURN {_CHUNK} ORDER BY c.position, c.id LIMIT $limit"""
CHUNKS_CITING = """
MATCH (c:Chunk {room: $room}) WHERE any(s IN c.source_ids WHERE s IN $sources) RETURN c.id"""
DROP_CHUNKS = "UNWIND $ids AS i MATCH (c:Chunk {room: $room, id: i}) DELETE c"

# One statement, so a reader sees the old set or the new one, never none or a part of either.
REPLACE_COMMUNITIES = """
OPTIONAL MATCH (old:Community {room: $room})
WITH collect(old) AS olds
FOREACH (o IN olds | DELETE o)
WITH 1 AS one
UNWIND $rows AS row
CREATE (:Community {room: $room, id: row.id, level: row.level, members: row.members,
                    parent_id: row.parent_id, report: row.report,
                    report_sources: row.report_sources})"""
GET_COMMUNITIES = f"""
MATCH (c:Community {{room: $room}}) WHERE $level IS NULL OR c.level = $level
RETURN {_COMMUNITY} ORDER BY c.level, c.id"""
REPORTS_CITING = """
MATCH (c:Community {room: $room}) WHERE any(s IN c.report_sources WHERE s IN $sources)
RETURN c.id ORDER BY c.id"""
DROP_REPORTS = """
UNWIND $ids AS i MATCH (c:Community {room: $room, id: i})
SET c.report = null, c.report_sources = []"""

APPEND_MERGE = """
CREATE (:MergeLog {room: $room, merged_key: $merged_key, merged_name: $merged_name,
                   into_key: $into_key, reason: $reason, at: $at})"""
GET_MERGE_LOG = """
MATCH (m:MergeLog {room: $room})
RETURN m.merged_key, m.merged_name, m.into_key, m.reason, m.at ORDER BY m.at DESC LIMIT $limit"""

COUNT_ENTITIES = "MATCH (e:Entity {room: $room}) RETURN count(e)"
COUNT_RELATIONS = f"{_REL_MATCH} RETURN count(r)"
COUNT_CHUNKS = "MATCH (c:Chunk {room: $room}) RETURN count(c)"
COUNT_COMMUNITIES = "MATCH (c:Community {room: $room}) RETURN count(c)"


def _summary(text: str | None, of: str | None) -> Summary | None:
    # Stored as two strings ("" for none): a null property would vanish on some stores.
    return Summary(text or "", of) if of else None


def _summary_row(summary: Summary | None) -> dict[str, str]:
    if summary is None:
        return {"summary": "", "summary_of": ""}
    return {"summary": summary.text, "summary_of": summary.of}


def _entity(row: Row) -> Entity:
    key, name, type_, aliases, sources, texts, summary, summary_of = row
    described = tuple(SourcedText(s, t) for s, t in zip(sources, texts, strict=True))
    return Entity(key, name, type_, tuple(aliases), described, _summary(summary, summary_of))


def _entity_row(e: Entity) -> dict[str, Any]:
    return {
        "key": e.key, "name": e.name, "type": e.type, "aliases": list(e.aliases),
        "alias_keys": list(merging.alias_keys(e)),
        "desc_sources": [d.source_id for d in e.descriptions],
        "desc_texts": [d.text for d in e.descriptions], **_summary_row(e.summary),
    }  # fmt: skip


def _relation(row: Row) -> Relation:
    source, target, relation, sources, texts, weights, summary, summary_of = row
    evidence = tuple(
        Evidence(s, t, float(w)) for s, t, w in zip(sources, texts, weights, strict=True)
    )
    return Relation(source, target, relation, evidence, _summary(summary, summary_of))


def _relation_row(r: Relation) -> dict[str, Any]:
    return {
        "source": r.source, "target": r.target, "relation": r.relation,
        "ev_sources": [e.source_id for e in r.evidence], "ev_texts": [e.text for e in r.evidence],
        "ev_weights": [float(e.weight) for e in r.evidence], "weight": float(r.weight),
        **_summary_row(r.summary),
    }  # fmt: skip


def _ident(ident: Ident) -> dict[str, str]:
    return {"source": ident[0], "target": ident[1], "relation": ident[2]}


def _chunk(row: Row) -> Chunk:
    chunk_id, text, messages, artifacts, mentions, position = row
    return Chunk(chunk_id, text, tuple(messages), tuple(artifacts), tuple(mentions), int(position))


def _chunk_row(c: Chunk) -> dict[str, Any]:
    return {
        "id": c.id, "text": c.text, "message_ids": list(c.message_ids),
        "artifact_ids": list(c.artifact_ids), "mentions": list(c.mentions), "position": c.position,
    }  # fmt: skip


def _report_json(report: CommunityReport | None) -> str | None:
    if report is None:
        return None
    findings = [
        {"summary": f.summary, "explanation": f.explanation,
         "message_ids": list(f.message_ids), "artifact_ids": list(f.artifact_ids)}
        for f in report.findings
    ]  # fmt: skip
    return json.dumps(
        {"title": report.title, "summary": report.summary, "findings": findings,
         "rating": report.rating, "source_ids": list(report.source_ids),
         "fingerprint": report.fingerprint}
    )  # fmt: skip


def _report(raw: str | None) -> CommunityReport | None:
    if raw is None:
        return None
    data = json.loads(raw)
    findings = tuple(
        Finding(f["summary"], f["explanation"], tuple(f.get("message_ids", ())),
                tuple(f.get("artifact_ids", ())))
        for f in data["findings"]
    )  # fmt: skip
    return CommunityReport(
        data["title"], data["summary"], findings, float(data["rating"]),
        tuple(data["source_ids"]), data.get("fingerprint", ""),
    )  # fmt: skip


def _community(row: Row) -> Community:
    cid, level, members, parent, report = row
    return Community(cid, int(level), tuple(members), parent, _report(report))


class CypherGraphStore(RecordGraphStore):
    def __init__(self, runner: CypherRunner) -> None:
        self._runner = runner

    async def _read(self, scope: Scope, query: str, **params: Any) -> list[Row]:
        return await self._runner.read(scope, query, {"room": scope.key, **params})

    async def _write(self, scope: Scope, query: str, **params: Any) -> list[Row]:
        return await self._runner.write(scope, query, {"room": scope.key, **params})

    async def _resolve(self, scope: Scope, lookups: Sequence[str]) -> dict[str, str]:
        found = dict(await self._read(scope, RESOLVE_KEYS, lookups=list(lookups)))
        missing = [k for k in lookups if k not in found]
        if missing:
            # An exact key wins over someone else's alias; among aliases the first key wins.
            for lookup, key in await self._read(scope, RESOLVE_ALIASES, lookups=missing):
                found.setdefault(lookup, key)
        return found

    async def _get_entities(self, scope: Scope, keys: Sequence[str]) -> dict[str, Entity]:
        rows = await self._read(scope, GET_ENTITIES, keys=list(keys)) if keys else []
        return {e.key: e for e in map(_entity, rows)}

    async def _put_entities(self, scope: Scope, entities: Sequence[Entity]) -> None:
        if entities:
            await self._write(scope, PUT_ENTITIES, rows=[_entity_row(e) for e in entities])

    async def _drop_entities(self, scope: Scope, keys: Sequence[str]) -> None:
        if keys:
            await self._write(scope, DROP_ENTITIES, keys=list(keys))

    async def _get_relations(self, scope: Scope, idents: Sequence[Ident]) -> dict[Ident, Relation]:
        if not idents:
            return {}
        rows = await self._read(scope, GET_RELATIONS, idents=[_ident(i) for i in idents])
        return {r.ident: r for r in map(_relation, rows)}

    async def _relations_touching(
        self, scope: Scope, keys: Sequence[str], limit: int | None
    ) -> list[Relation]:
        if not keys:
            return []
        rows = await self._read(
            scope, RELATIONS_TOUCHING, keys=list(keys), limit=limit or UNLIMITED
        )
        return [_relation(r) for r in rows]

    async def _relations_from(self, scope: Scope, keys: Sequence[str]) -> list[Relation]:
        rows = await self._read(scope, RELATIONS_FROM, keys=list(keys)) if keys else []
        return [_relation(r) for r in rows]

    async def _put_relations(self, scope: Scope, relations: Sequence[Relation]) -> None:
        if relations:
            await self._write(scope, PUT_RELATIONS, rows=[_relation_row(r) for r in relations])

    async def _drop_relations(self, scope: Scope, idents: Sequence[Ident]) -> None:
        if idents:
            await self._write(scope, DROP_RELATIONS, idents=[_ident(i) for i in idents])

    async def _entities_citing(self, scope: Scope, sources: Sequence[str]) -> list[Entity]:
        return [_entity(r) for r in await self._read(scope, ENTITIES_CITING, sources=list(sources))]

    async def _relations_citing(self, scope: Scope, sources: Sequence[str]) -> list[Relation]:
        rows = await self._read(scope, RELATIONS_CITING, sources=list(sources))
        return [_relation(r) for r in rows]

    async def _put_chunks(self, scope: Scope, chunks: Sequence[Chunk]) -> None:
        await self._write(scope, PUT_CHUNKS, rows=[_chunk_row(c) for c in chunks])

    async def _get_chunks(self, scope: Scope, ids: Sequence[str]) -> dict[str, Chunk]:
        rows = await self._read(scope, GET_CHUNKS, ids=list(ids)) if ids else []
        return {c.id: c for c in map(_chunk, rows)}

    async def _chunks_mentioning(
        self, scope: Scope, keys: Sequence[str], limit: int
    ) -> list[Chunk]:
        rows = await self._read(scope, CHUNKS_MENTIONING, keys=list(keys), limit=limit)
        return [_chunk(r) for r in rows]

    async def _drop_chunks_citing(self, scope: Scope, sources: Sequence[str]) -> int:
        ids = [row[0] for row in await self._read(scope, CHUNKS_CITING, sources=list(sources))]
        if ids:
            await self._write(scope, DROP_CHUNKS, ids=ids)
        return len(ids)

    async def _rename_mentions(self, scope: Scope, old: str, new: str) -> None:
        renamed = [
            Chunk(c.id, c.text, c.message_ids, c.artifact_ids,
                  tuple(dict.fromkeys(new if m == old else m for m in c.mentions)), c.position)
            for c in await self._chunks_mentioning(scope, [old], UNLIMITED)
        ]  # fmt: skip
        if renamed:
            await self._put_chunks(scope, renamed)

    async def _put_communities(self, scope: Scope, communities: Sequence[Community]) -> None:
        rows = [
            {"id": c.id, "level": c.level, "members": list(c.members), "parent_id": c.parent_id,
             "report": _report_json(c.report),
             "report_sources": list(c.report.source_ids) if c.report else []}
            for c in communities
        ]  # fmt: skip
        await self._write(scope, REPLACE_COMMUNITIES, rows=rows)

    async def _get_communities(self, scope: Scope, level: int | None) -> list[Community]:
        return [_community(r) for r in await self._read(scope, GET_COMMUNITIES, level=level)]

    async def _drop_reports_citing(self, scope: Scope, sources: Sequence[str]) -> list[str]:
        ids = [row[0] for row in await self._read(scope, REPORTS_CITING, sources=list(sources))]
        if ids:
            await self._write(scope, DROP_REPORTS, ids=ids)
        return ids

    async def _append_merge(self, scope: Scope, record: MergeRecord) -> None:
        await self._write(
            scope, APPEND_MERGE, merged_key=record.merged_key, merged_name=record.merged_name,
            into_key=record.into_key, reason=record.reason, at=record.at.isoformat(),
        )  # fmt: skip

    async def _get_merge_log(self, scope: Scope, limit: int) -> list[MergeRecord]:
        rows = await self._read(scope, GET_MERGE_LOG, limit=limit)
        return [MergeRecord(m, n, i, r, datetime.fromisoformat(at)) for m, n, i, r, at in rows]

    async def _page_entities(self, scope: Scope, offset: int, limit: int) -> list[Entity]:
        rows = await self._read(scope, PAGE_ENTITIES, offset=offset, limit=limit)
        return [_entity(r) for r in rows]

    async def stats(self, scope: Scope) -> GraphStats:
        counts = []
        for query in (COUNT_ENTITIES, COUNT_RELATIONS, COUNT_CHUNKS, COUNT_COMMUNITIES):
            rows = await self._read(scope, query)
            counts.append(int(rows[0][0]) if rows else 0)
        return GraphStats(*counts)

    async def purge(self, scope: Scope) -> None:
        await self._runner.purge(scope)

    async def ping(self) -> None:
        await self._runner.ping()

    async def close(self) -> None:
        await self._runner.close()
