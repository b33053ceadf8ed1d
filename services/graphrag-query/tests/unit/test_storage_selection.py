"""The service reads the shared store settings under its own prefix, and its composition root
builds the adapters they select (the settings rules themselves: libs/graphstore tests)."""

from __future__ import annotations

import os

import pytest

from coagent_graphrag_query.app import create_app
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_graphstore.adapters.cypher import CypherGraphStore
from coagent_graphstore.adapters.falkordb import FalkorRunner, FalkorVectorIndex
from coagent_graphstore.adapters.neo4j import Neo4jRunner
from coagent_graphstore.adapters.qdrant import QdrantVectorIndex


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("COAGENT_", "GRAPHRAG_QUERY_")):
            monkeypatch.delenv(name)


def test_fleet_wide_urls_select_neo4j_and_qdrant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COAGENT_NEO4J_URI", "bolt://neo4j:7687")
    monkeypatch.setenv("COAGENT_NEO4J_PASSWORD", "s3cret-password")
    monkeypatch.setenv("COAGENT_QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("GRAPHRAG_QUERY_VECTOR_DIMENSION", "384")
    storage = GraphragQuerySettings().storage()
    assert (storage.graph_backend, storage.vector_backend) == ("neo4j", "qdrant")
    assert (storage.neo4j_uri, storage.neo4j_password) == ("bolt://neo4j:7687", "s3cret-password")
    assert storage.vector_dimension == 384


async def test_the_app_holds_the_selected_adapters() -> None:
    default = create_app(GraphragQuerySettings())
    assert isinstance(default.state.graph_store, CypherGraphStore)
    assert isinstance(default.state.graph_store._runner, FalkorRunner)
    assert isinstance(default.state.vector_index, FalkorVectorIndex)
    production = create_app(
        GraphragQuerySettings(neo4j_uri="bolt://127.0.0.1:1", qdrant_url=":memory:")
    )
    assert isinstance(production.state.graph_store._runner, Neo4jRunner)
    assert isinstance(production.state.vector_index, QdrantVectorIndex)
    for app in (default, production):
        await app.state.graph_store.close()
        await app.state.vector_index.close()
