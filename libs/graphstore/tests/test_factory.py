"""Adapter selection from configuration."""

from __future__ import annotations

import pytest
import redis.exceptions

from coagent_graphstore.adapters.cypher import CypherGraphStore
from coagent_graphstore.adapters.falkordb import FalkorRunner, FalkorVectorIndex
from coagent_graphstore.adapters.neo4j import Neo4jRunner
from coagent_graphstore.adapters.qdrant import QdrantVectorIndex
from coagent_graphstore.factory import StorageConfig, open_graph_store, open_vector_index


async def test_the_embedded_default_is_falkordb_for_graph_and_vectors() -> None:
    config = StorageConfig(graph_url="redis://127.0.0.1:1", vector_dimension=16)
    assert (config.graph_backend, config.vector_backend, config.uses_falkordb) == (
        "falkordb", "falkordb", True,
    )  # fmt: skip
    graph, vectors = open_graph_store(config), open_vector_index(config)
    assert isinstance(graph, CypherGraphStore)
    assert isinstance(graph._runner, FalkorRunner)
    assert isinstance(vectors, FalkorVectorIndex)
    assert vectors.dimension == 16
    await graph.close()
    await vectors.close()


async def test_urls_select_neo4j_and_qdrant() -> None:
    config = StorageConfig(
        graph_url="redis://127.0.0.1:1", vector_dimension=16,
        neo4j_uri="bolt://127.0.0.1:1", neo4j_password="secret", qdrant_url=":memory:",
    )  # fmt: skip
    assert config.uses_falkordb is False
    graph, vectors = open_graph_store(config), open_vector_index(config)
    assert isinstance(graph, CypherGraphStore)
    assert isinstance(graph._runner, Neo4jRunner)
    assert isinstance(vectors, QdrantVectorIndex)
    await graph.close()
    await vectors.close()


async def test_ping_reports_an_unreachable_store() -> None:
    config = StorageConfig(graph_url="redis://127.0.0.1:1", vector_dimension=16)
    graph, vectors = open_graph_store(config), open_vector_index(config)
    with pytest.raises(redis.exceptions.ConnectionError):
        await graph.ping()
    with pytest.raises(redis.exceptions.ConnectionError):
        await vectors.ping()
    await graph.close()
    await vectors.close()
