"""Settings: own prefix for per-service values, ``COAGENT_*`` for fleet-wide ones."""

from __future__ import annotations

import pytest

from coagent_graphrag_query.settings import GraphragQuerySettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COAGENT_GRAPH_URL", "GRAPHRAG_QUERY_GRAPH_URL", "GRAPHRAG_QUERY_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = GraphragQuerySettings()
    assert settings.port == 8105
    assert settings.graph_url == "redis://127.0.0.1:6379"


def test_graph_url_is_fleet_wide_and_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COAGENT_GRAPH_URL", "redis://graph:6380")
    assert GraphragQuerySettings().graph_url == "redis://graph:6380"
    monkeypatch.setenv("GRAPHRAG_QUERY_GRAPH_URL", "redis://own-graph:6381")
    assert GraphragQuerySettings().graph_url == "redis://own-graph:6381"


def test_it_owns_no_database() -> None:
    # The runner migrates only services whose settings have a database_url.
    assert "database_url" not in GraphragQuerySettings.model_fields
