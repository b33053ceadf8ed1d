"""Qdrant VectorIndex: one collection, every point tagged with its scope key (a tenant index).

Point ids are UUIDv5 of (scope, kind, id), so the same item id in two rooms is two points and an
upsert of the same item replaces its point.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from qdrant_client import AsyncQdrantClient, models

from coagent_graphstore.errors import InvalidRecord
from coagent_graphstore.models import Scope, VectorHit, VectorItem, VectorKind
from coagent_graphstore.vectors import check_query, check_vectors

_NAMESPACE = uuid.UUID("6f1c3c8e-5a0b-4e7a-9a55-2f0d3b8f7c11")
DEFAULT_COLLECTION = "coagent_graphrag"


def _point_id(scope: Scope, kind: str, item_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{scope.key}\x00{kind}\x00{item_id}"))


def _in_scope(scope: Scope, *extra: models.Condition) -> models.Filter:
    room = models.FieldCondition(key="room", match=models.MatchValue(value=scope.key))
    return models.Filter(must=[room, *extra])


class QdrantVectorIndex:
    def __init__(
        self,
        client: AsyncQdrantClient,
        dimension: int,
        collection: str = DEFAULT_COLLECTION,
        *,
        payload_indexes: bool = True,
    ) -> None:
        self._client = client
        self._payload_indexes = payload_indexes
        self._dimension = dimension
        self._collection = collection
        self._ready = False

    @property
    def dimension(self) -> int:
        return self._dimension

    async def _ensure(self) -> None:
        if self._ready:
            return
        if not await self._client.collection_exists(self._collection):
            await self._create()
        vectors = (await self._client.get_collection(self._collection)).config.params.vectors
        size = vectors.size if isinstance(vectors, models.VectorParams) else None
        if size != self._dimension:
            raise InvalidRecord(
                f"Qdrant collection {self._collection!r} holds vectors of size {size}, "
                f"this index is configured for {self._dimension}"
            )
        self._ready = True

    async def _create(self) -> None:
        params = models.VectorParams(size=self._dimension, distance=models.Distance.COSINE)
        try:
            await self._client.create_collection(self._collection, vectors_config=params)
        except Exception:
            # Ingest and query both get here on a fresh server; losing the race is fine.
            if await self._client.collection_exists(self._collection):
                return
            raise
        # A tenant index keeps each room's points together; local mode has no indexes.
        if self._payload_indexes:
            tenant = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
            await self._client.create_payload_index(self._collection, "room", tenant)
            await self._client.create_payload_index(
                self._collection, "source_ids", models.PayloadSchemaType.KEYWORD
            )

    async def upsert(self, scope: Scope, items: Sequence[VectorItem]) -> None:
        check_vectors(self._dimension, items)
        if not items:
            return
        await self._ensure()
        points = [
            models.PointStruct(
                id=_point_id(scope, i.kind, i.id),
                vector=[float(x) for x in i.vector],
                payload={
                    "room": scope.key,
                    "kind": i.kind,
                    "item_id": i.id,
                    "source_ids": list(i.source_ids),
                    "text": i.text,
                },
            )  # fmt: skip
            for i in items
        ]
        await self._client.upsert(self._collection, points=points, wait=True)

    async def search(
        self,
        scope: Scope,
        vector: Sequence[float],
        *,
        k: int,
        kinds: Sequence[VectorKind] | None = None,
    ) -> list[VectorHit]:
        check_query(self._dimension, vector, k)
        await self._ensure()
        extra: list[models.Condition] = []
        if kinds is not None:
            extra.append(
                models.FieldCondition(
                    key="kind", match=models.MatchAny(any=[str(k) for k in kinds])
                )
            )
        response = await self._client.query_points(
            self._collection,
            query=[float(x) for x in vector],
            query_filter=_in_scope(scope, *extra),
            limit=k,
            with_payload=True,
        )
        hits = [
            VectorHit(
                str(p.payload["item_id"]),
                p.payload["kind"],
                float(p.score),
                tuple(p.payload["source_ids"]),
                str(p.payload["text"]),
            )  # fmt: skip
            for p in response.points
            if p.payload is not None
        ]
        return sorted(hits, key=lambda h: (-h.score, h.kind, h.id))

    async def delete(self, scope: Scope, kind: VectorKind, ids: Sequence[str]) -> None:
        await self._ensure()
        points: list[models.ExtendedPointId] = [_point_id(scope, kind, i) for i in ids]
        await self._client.delete(
            self._collection, points_selector=models.PointIdsList(points=points), wait=True
        )

    async def delete_sources(self, scope: Scope, source_ids: Sequence[str]) -> int:
        await self._ensure()
        cited = models.FieldCondition(key="source_ids", match=models.MatchAny(any=list(source_ids)))
        selector = _in_scope(scope, cited)
        counted = await self._client.count(self._collection, count_filter=selector, exact=True)
        await self._delete(selector)
        return counted.count

    async def purge(self, scope: Scope) -> None:
        await self._ensure()
        await self._delete(_in_scope(scope))

    async def _delete(self, selector: models.Filter) -> None:
        await self._client.delete(
            self._collection, points_selector=models.FilterSelector(filter=selector), wait=True
        )

    async def ping(self) -> None:
        await self._client.get_collections()

    async def close(self) -> None:
        await self._client.close()


def qdrant_vector_index(
    url: str, dimension: int, api_key: str | None = None, collection: str = DEFAULT_COLLECTION
) -> QdrantVectorIndex:
    """``url`` is a server URL, or ``:memory:`` / ``path:<dir>`` for qdrant-client local mode."""
    if url == ":memory:":
        client = AsyncQdrantClient(location=":memory:")
    elif url.startswith("path:"):
        client = AsyncQdrantClient(path=url.removeprefix("path:"))
    else:
        client = AsyncQdrantClient(url=url, api_key=api_key)
        return QdrantVectorIndex(client, dimension, collection)
    return QdrantVectorIndex(client, dimension, collection, payload_indexes=False)
