"""The store settings both GraphRAG services inherit: defaults, fleet-wide selection, limits."""

from __future__ import annotations

import os
from typing import ClassVar

import pytest
from pydantic_settings import SettingsConfigDict

from coagent_graphstore.settings import GraphStoreSettings


class DemoSettings(GraphStoreSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")
    service_name: ClassVar[str] = "demo"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("COAGENT_", "DEMO_")):
            monkeypatch.delenv(name)


def test_the_embedded_falkordb_is_the_default_for_graph_and_vectors() -> None:
    storage = DemoSettings().storage()
    assert (storage.graph_backend, storage.vector_backend) == ("falkordb", "falkordb")
    assert storage.graph_url == "redis://127.0.0.1:6379"
    assert storage.vector_dimension == 256


def test_fleet_wide_urls_select_neo4j_and_qdrant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COAGENT_NEO4J_URI", "bolt://neo4j:7687")
    monkeypatch.setenv("COAGENT_NEO4J_PASSWORD", "s3cret-password")
    monkeypatch.setenv("COAGENT_QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("DEMO_VECTOR_DIMENSION", "384")
    storage = DemoSettings().storage()
    assert (storage.graph_backend, storage.vector_backend) == ("neo4j", "qdrant")
    assert (storage.neo4j_uri, storage.neo4j_password) == ("bolt://neo4j:7687", "s3cret-password")
    assert storage.vector_dimension == 384


def test_a_vector_dimension_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_VECTOR_DIMENSION", "0")
    with pytest.raises(ValueError, match="vector_dimension"):
        DemoSettings()


def test_store_credentials_follow_their_servers_rules_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COAGENT_ENV", "prod")
    monkeypatch.setenv("COAGENT_INTERNAL_TOKEN_SECRET", "x" * 40)
    monkeypatch.setenv("COAGENT_NEO4J_PASSWORD", "eight-ch")
    assert DemoSettings().storage().neo4j_password == "eight-ch"
    monkeypatch.delenv("COAGENT_INTERNAL_TOKEN_SECRET")
    with pytest.raises(ValueError, match="INTERNAL_TOKEN_SECRET"):
        DemoSettings()
