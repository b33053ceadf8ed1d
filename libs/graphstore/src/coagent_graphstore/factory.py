"""Adapters chosen from configuration: embedded FalkorDB unless Neo4j / Qdrant URLs are given.

Composition roots call these; everything else depends on the ports only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from coagent_graphstore.ports import GraphStore, VectorIndex


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """Where the graph and the vectors live; both GraphRAG services must agree on it."""

    graph_url: str
    vector_dimension: int
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    neo4j_database: str | None = None
    #: A Qdrant server URL, or ``:memory:`` / ``path:<dir>`` for qdrant-client local mode
    #: (one process only, so not for a fleet where ingest and query both need it).
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None

    @property
    def graph_backend(self) -> Literal["falkordb", "neo4j"]:
        return "neo4j" if self.neo4j_uri else "falkordb"

    @property
    def vector_backend(self) -> Literal["falkordb", "qdrant"]:
        return "qdrant" if self.qdrant_url else "falkordb"

    @property
    def uses_falkordb(self) -> bool:
        return "falkordb" in (self.graph_backend, self.vector_backend)


def open_graph_store(config: StorageConfig) -> GraphStore:
    """The configured GraphStore; its client connects on first use."""
    if config.neo4j_uri:
        from coagent_graphstore.adapters.neo4j import neo4j_graph_store

        return neo4j_graph_store(
            config.neo4j_uri, config.neo4j_user, config.neo4j_password, config.neo4j_database
        )
    from coagent_graphstore.adapters.falkordb import falkordb_graph_store

    return falkordb_graph_store(config.graph_url)


def open_vector_index(config: StorageConfig) -> VectorIndex:
    """The configured VectorIndex; its client connects on first use."""
    if config.qdrant_url:
        from coagent_graphstore.adapters.qdrant import qdrant_vector_index

        return qdrant_vector_index(
            config.qdrant_url, config.vector_dimension, api_key=config.qdrant_api_key
        )
    from coagent_graphstore.adapters.falkordb import falkordb_vector_index

    return falkordb_vector_index(config.graph_url, config.vector_dimension)
