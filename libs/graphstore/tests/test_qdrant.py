"""Qdrant specifics beyond the shared contract (local mode)."""

from __future__ import annotations

import pytest
from qdrant_client import AsyncQdrantClient

from coagent_graphstore.adapters.qdrant import QdrantVectorIndex
from coagent_graphstore.errors import InvalidRecord
from coagent_graphstore.models import Scope, VectorItem


async def test_a_collection_of_another_dimension_is_refused_clearly() -> None:
    client = AsyncQdrantClient(location=":memory:")
    scope = Scope("room-1")
    first = QdrantVectorIndex(client, 4, "shared", payload_indexes=False)
    await first.upsert(scope, [VectorItem("c1", "chunk", (1.0, 0.0, 0.0, 0.0))])
    # A second index on the same collection (another process) finds it and agrees on the size.
    same = QdrantVectorIndex(client, 4, "shared", payload_indexes=False)
    assert [h.id for h in await same.search(scope, (1.0, 0.0, 0.0, 0.0), k=1)] == ["c1"]
    other = QdrantVectorIndex(client, 8, "shared", payload_indexes=False)
    with pytest.raises(InvalidRecord, match="size 4"):
        await other.search(scope, (1.0,) * 8, k=1)
    await client.close()
