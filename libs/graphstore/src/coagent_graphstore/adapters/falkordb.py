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
# A room never written has no graph key; a vector kind never written has no index, which the
# vector procedure reports as an undefined attribute.
_NO_GRAPH = ("empty key",)
_NO_VECTORS = ("empty key", "undefined attribute")


def _absent(error: ResponseError, markers: tuple[str, ...] = _NO_GRAPH) -> bool:
    return any(marker in str(error).lower() for marker in markers)


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


async def _create_indexes(db: FalkorDB, graph: str, statements: Sequence[str]) -> None:
    target = db.select_graph(graph)
    for statement in statements:
        try:
            await target.query(statement)
        except ResponseError as error:
            if "already indexed" not in str(error):
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
            await _create_indexes(await self._client.get(), name, _GRAPH_INDEXES)
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


_UPSERT_VECTORS = """
UNWIND $rows AS row
MERGE (v:{label} {{id: row.id}})
SET v.room = $room, v.source_ids = row.source_ids, v.text = row.text,
    v.embedding = vecf32(row.vector)"""
_SEARCH = """
CALL db.idx.vector.queryNodes('{label}', 'embedding', $k, vecf32($vector)) YIELD node, score
WHERE node.room = $room
RETURN node.id, node.source_ids, node.text, score"""
_DELETE_IDS = "UNWIND $ids AS i MATCH (v:{label} {{id: i}}) DELETE v"
_DELETE_SOURCES = """
MATCH (v:{label}) WHERE any(s IN v.source_ids WHERE s IN $sources) DELETE v RETURN count(v)"""


class FalkorVectorIndex:
    """The embedded VectorIndex: FalkorDB's HNSW vector index, one graph per scope.

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
        # Labels come from a fixed table and the dimension is a checked int: no user data here.
        statements = [
            stmt
            for label in _VECTOR_LABELS.values()
            for stmt in (
                f"CREATE INDEX FOR (v:{label}) ON (v.id)",
                f"CREATE VECTOR INDEX FOR (v:{label}) ON (v.embedding) "
                f"OPTIONS {{dimension: {int(self._dimension)}, similarityFunction: 'cosine'}}",
            )
        ]
        await _create_indexes(await self._client.get(), name, statements)
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
                if _absent(error, _NO_VECTORS):
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
