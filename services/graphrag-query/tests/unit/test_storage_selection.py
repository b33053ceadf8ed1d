"""The composition root picks the graph and vector adapters from settings."""

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


def test_the_embedded_falkordb_is_the_default_for_graph_and_vectors() -> None:
    storage = GraphragQuerySettings().storage()
    assert (storage.graph_backend, storage.vector_backend) == ("falkordb", "falkordb")
    assert storage.graph_url == "redis://127.0.0.1:6379"
    assert storage.vector_dimension == 256


def test_fleet_wide_urls_select_neo4j_and_qdrant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COAGENT_NEO4J_URI", "bolt://neo4j:7687")
    monkeypatch.setenv("COAGENT_NEO4J_PASSWORD", "s3cret-password")
    monkeypatch.setenv("COAGENT_QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("GRAPHRAG_QUERY_VECTOR_DIMENSION", "384")
    storage = GraphragQuerySettings().storage()
    assert (storage.graph_backend, storage.vector_backend) == ("neo4j", "qdrant")
    assert (storage.neo4j_uri, storage.neo4j_password) == ("bolt://neo4j:7687", "s3cret-password")
    assert storage.vector_dimension == 384


def test_a_vector_dimension_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_QUERY_VECTOR_DIMENSION", "0")
    with pytest.raises(ValueError, match="vector_dimension"):
        GraphragQuerySettings()


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


def test_store_credentials_follow_their_servers_rules_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COAGENT_ENV", "prod")
    monkeypatch.setenv("COAGENT_INTERNAL_TOKEN_SECRET", "x" * 40)
    monkeypatch.setenv("COAGENT_NEO4J_PASSWORD", "eight-ch")
    assert GraphragQuerySettings().storage().neo4j_password == "eight-ch"
    monkeypatch.delenv("COAGENT_INTERNAL_TOKEN_SECRET")
    with pytest.raises(ValueError, match="INTERNAL_TOKEN_SECRET"):
        GraphragQuerySettings()
