"""FalkorDB adapters: the GraphStore (Cypher) and the embedded VectorIndex on the same server.

Each scope gets its own graph key (``<prefix>:<scope key>``), so a room's queries physically
cannot reach another room's nodes, a purge is one key deletion, and a vector index holds one
room only, which makes top-k exact per room instead of a global top-k filtered afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from falkordb.asyncio import FalkorDB
from falkordb.asyncio.graph import AsyncGraph
from redis.exceptions import ResponseError

from coagent_graphstore.adapters.cypher import CypherGraphStore, Row
from coagent_graphstore.models import VECTOR_KINDS, Scope, VectorHit, VectorItem, VectorKind
from coagent_graphstore.vectors import check_query, check_vectors

GRAPH_PREFIX = "coagent:kg"
VECTOR_PREFIX = "coagent:vec"

# Range indexes behind every MERGE and lookup; FalkorDB's MERGE scans the label without them.
_GRAPH_INDEXES = (
    "CREATE INDEX FOR (e:Entity) ON (e.room, e.key)",
    "CREATE INDEX FOR (c:Chunk) ON (c.room, c.id)",
    "CREATE INDEX FOR (c:Community) ON (c.room, c.id)",
    "CREATE INDEX FOR (m:MergeLog) ON (m.room)",
)
_VECTOR_LABELS: dict[VectorKind, str] = {
    "chunk": "ChunkVec",
    "entity": "EntityVec",
    "community": "CommunityVec",
}
# A room never written has no graph key.
_NO_GRAPH = ("empty key",)


def _absent(error: ResponseError) -> bool:
    return any(marker in str(error).lower() for marker in _NO_GRAPH)


class LazyFalkorDB:
    """A FalkorDB client built on first use.

    The client probes the server synchronously when built (to detect a cluster), which would
    block the event loop and make building an app fail while the server is still starting.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._db: FalkorDB | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> FalkorDB:
        async with self._lock:
            if self._db is None:
                self._db = await asyncio.to_thread(FalkorDB.from_url, self._url)
            return self._db

    async def graph(self, name: str) -> AsyncGraph:
        return (await self.get()).select_graph(name)

    async def ping(self) -> None:
        # A graph-module command: a plain Redis without FalkorDB fails here, not at first use.
        await (await self.get()).config_get("TIMEOUT")

    async def aclose(self) -> None:
        if self._db is not None:
            await self._db.aclose()


async def _run_index_statements(
    db: FalkorDB, graph: str, statements: Sequence[str], done: str = "already indexed"
) -> None:
    """Runs index statements, taking an error that says it is already done as success."""
    target = db.select_graph(graph)
    for statement in statements:
        try:
            await target.query(statement)
        except ResponseError as error:
            if done not in str(error):
                raise


class FalkorRunner:
    """Runs the shared Cypher of :class:`CypherGraphStore` in the scope's own graph."""

    def __init__(self, url: str, prefix: str = GRAPH_PREFIX) -> None:
        self._client = LazyFalkorDB(url)
        self._prefix = prefix
        self._indexed: set[str] = set()

    def _name(self, scope: Scope) -> str:
        return f"{self._prefix}:{scope.key}"

    async def read(self, scope: Scope, query: str, params: dict[str, Any]) -> list[Row]:
        try:
            result = await (await self._client.graph(self._name(scope))).ro_query(query, params)
        except ResponseError as error:
            if _absent(error):
                return []
            raise
        return [list(row) for row in result.result_set]

    async def write(self, scope: Scope, query: str, params: dict[str, Any]) -> list[Row]:
        name = self._name(scope)
        if name not in self._indexed:
            await _run_index_statements(await self._client.get(), name, _GRAPH_INDEXES)
            self._indexed.add(name)
        result = await (await self._client.graph(name)).query(query, params)
        return [list(row) for row in result.result_set]

    async def purge(self, scope: Scope) -> None:
        name = self._name(scope)
        self._indexed.discard(name)
        with contextlib.suppress(ResponseError):  # nothing stored yet: nothing to delete
            await (await self._client.graph(name)).delete()

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()


def falkordb_graph_store(url: str, prefix: str = GRAPH_PREFIX) -> CypherGraphStore:
    """A GraphStore on the FalkorDB server at ``url`` (``redis://host:port``)."""
    return CypherGraphStore(FalkorRunner(url, prefix))


# REMOVE before SET: on FalkorDB 4.16 a SET of a vecf32 over an existing vecf32 is silently
# skipped for some nodes (properties_set stays low and the old vector stays, FalkorDB issue #2099;
# here 11 of 20 rewritten vectors kept their old value). Removing the property first makes every
# write a fresh one.
_UPSERT_VECTORS = """
UNWIND $rows AS row
MERGE (v:{label} {{id: row.id}})
REMOVE v.embedding
SET v.room = $room, v.source_ids = row.source_ids, v.text = row.text,
    v.embedding = vecf32(row.vector)"""
# An exact scan of the room's graph, not FalkorDB's HNSW index (db.idx.vector.queryNodes): on
# FalkorDB 4.16 every rewritten or deleted vector leaves an entry in that index that still takes
# one of the k slots and is then dropped, so a query returns fewer than k nodes and untouched
# neighbours fall out of the results (FalkorDB issue #2179; here, after 10 of 80 nodes were
# replaced, 40 of 80 top-6 queries came back short). A graph holds one room, so the scan covers
# hundreds to a few thousand vectors: about 10 ms for 5,000 of dimension 256.
_SEARCH = """
MATCH (v:{label})
WHERE v.room = $room
WITH v, vec.cosineDistance(v.embedding, vecf32($vector)) AS distance
ORDER BY distance, v.id
LIMIT $k
RETURN v.id, v.source_ids, v.text, distance"""
_DELETE_IDS = "UNWIND $ids AS i MATCH (v:{label} {{id: i}}) DELETE v"
_DELETE_SOURCES = """
MATCH (v:{label}) WHERE any(s IN v.source_ids WHERE s IN $sources) DELETE v RETURN count(v)"""


class FalkorVectorIndex:
    """The embedded VectorIndex: vectors as nodes in one FalkorDB graph per scope, searched exactly.

    Ingest writes and query reads the same server, so both processes share it with no file
    locking (unlike qdrant-client's local mode, which allows one process per directory).
    """

    def __init__(self, url: str, dimension: int, prefix: str = VECTOR_PREFIX) -> None:
        if not 0 < dimension <= 4096:
            raise ValueError(f"dimension must be between 1 and 4096, got {dimension}")
        self._client = LazyFalkorDB(url)
        self._dimension = dimension
        self._prefix = prefix
        self._indexed: set[str] = set()

    @property
    def dimension(self) -> int:
        return self._dimension

    def _name(self, scope: Scope) -> str:
        return f"{self._prefix}:{scope.key}"

    async def _ensure_indexes(self, name: str) -> None:
        if name in self._indexed:
            return
        # Only the range index behind MERGE and deletes by id: searches scan (see _SEARCH), so a
        # vector index left by an earlier version would only cost every write. Labels come from a
        # fixed table: no user data in these statements.
        labels = _VECTOR_LABELS.values()
        db = await self._client.get()
        creates = [f"CREATE INDEX FOR (v:{label}) ON (v.id)" for label in labels]
        await _run_index_statements(db, name, creates)
        drops = [f"DROP VECTOR INDEX FOR (v:{label}) ON (v.embedding)" for label in labels]
        await _run_index_statements(db, name, drops, done="no such index")
        self._indexed.add(name)

    async def upsert(self, scope: Scope, items: Sequence[VectorItem]) -> None:
        check_vectors(self._dimension, items)
        name = self._name(scope)
        await self._ensure_indexes(name)
        graph = await self._client.graph(name)
        for kind, label in _VECTOR_LABELS.items():
            rows = [
                {"id": i.id, "source_ids": list(i.source_ids), "text": i.text,
                 "vector": [float(x) for x in i.vector]}
                for i in items if i.kind == kind
            ]  # fmt: skip
            if rows:
                query = _UPSERT_VECTORS.format(label=label)
                await graph.query(query, {"rows": rows, "room": scope.key})

    async def search(
        self,
        scope: Scope,
        vector: Sequence[float],
        *,
        k: int,
        kinds: Sequence[VectorKind] | None = None,
    ) -> list[VectorHit]:
        check_query(self._dimension, vector, k)
        graph = await self._client.graph(self._name(scope))
        params = {"k": k, "vector": [float(x) for x in vector], "room": scope.key}
        hits: list[VectorHit] = []
        for kind in kinds or VECTOR_KINDS:
            try:
                result = await graph.ro_query(_SEARCH.format(label=_VECTOR_LABELS[kind]), params)
            except ResponseError as error:
                if _absent(error):
                    continue
                raise
            # FalkorDB reports the cosine distance; the port speaks similarity.
            hits += [
                VectorHit(item_id, kind, 1.0 - float(distance), tuple(sources), text)
                for item_id, sources, text, distance in result.result_set
            ]
        return sorted(hits, key=lambda h: (-h.score, h.kind, h.id))[:k]

    async def delete(self, scope: Scope, kind: VectorKind, ids: Sequence[str]) -> None:
        await self._write(scope, _DELETE_IDS.format(label=_VECTOR_LABELS[kind]), ids=list(ids))

    async def delete_sources(self, scope: Scope, source_ids: Sequence[str]) -> int:
        removed = 0
        for label in _VECTOR_LABELS.values():
            query = _DELETE_SOURCES.format(label=label)
            rows = await self._write(scope, query, sources=list(source_ids))
            removed += int(rows[0][0]) if rows else 0
        return removed

    async def _write(self, scope: Scope, query: str, **params: Any) -> list[Row]:
        try:
            result = await (await self._client.graph(self._name(scope))).query(query, params)
        except ResponseError as error:
            if _absent(error):
                return []
            raise
        return [list(row) for row in result.result_set]

    async def purge(self, scope: Scope) -> None:
        name = self._name(scope)
        self._indexed.discard(name)
        with contextlib.suppress(ResponseError):
            await (await self._client.graph(name)).delete()

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()


def falkordb_vector_index(url: str, dimension: int) -> FalkorVectorIndex:
    return FalkorVectorIndex(url, dimension)
