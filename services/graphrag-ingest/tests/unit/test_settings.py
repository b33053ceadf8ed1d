"""Settings: own prefix for per-service values, ``COAGENT_*`` for fleet-wide ones."""

from __future__ import annotations

import pytest

from coagent_graphrag_ingest.settings import GraphragIngestSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COAGENT_GRAPH_URL", "GRAPHRAG_INGEST_GRAPH_URL", "GRAPHRAG_INGEST_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("COAGENT_DATABASE_URL", raising=False)
    monkeypatch.delenv("GRAPHRAG_INGEST_DATABASE_URL", raising=False)


def test_defaults() -> None:
    settings = GraphragIngestSettings()
    assert settings.port == 8104
    assert settings.graph_url == "redis://127.0.0.1:6379"
    assert settings.database_url.endswith("/coagent_graphrag_ingest")


def test_graph_url_is_fleet_wide_and_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COAGENT_GRAPH_URL", "redis://graph:6380")
    assert GraphragIngestSettings().graph_url == "redis://graph:6380"
    monkeypatch.setenv("GRAPHRAG_INGEST_GRAPH_URL", "redis://own-graph:6381")
    assert GraphragIngestSettings().graph_url == "redis://own-graph:6381"


def test_the_database_is_never_taken_from_the_fleet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COAGENT_DATABASE_URL", "postgresql+asyncpg://someone@else/db")
    assert GraphragIngestSettings().database_url.endswith("/coagent_graphrag_ingest")
    monkeypatch.setenv("GRAPHRAG_INGEST_DATABASE_URL", "postgresql+asyncpg://me@here/mine")
    assert GraphragIngestSettings().database_url == "postgresql+asyncpg://me@here/mine"


def test_debounce_and_model_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_INGEST_DEBOUNCE_QUIET_S", "5")
    monkeypatch.setenv("GRAPHRAG_INGEST_DEBOUNCE_MAX_WAIT_S", "60")
    settings = GraphragIngestSettings()
    assert (settings.debounce_quiet_s, settings.debounce_max_wait_s) == (5.0, 60.0)
    assert settings.llm_api_key is None  # offline extraction unless a key is configured
    assert GraphragIngestSettings.env_name("llm_api_key") == "GRAPHRAG_INGEST_LLM_API_KEY"


def test_a_max_wait_shorter_than_the_quiet_window_is_refused() -> None:
    with pytest.raises(ValueError, match="DEBOUNCE_MAX_WAIT_S"):
        GraphragIngestSettings(debounce_quiet_s=10, debounce_max_wait_s=1)


def test_the_build_ack_wait_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert GraphragIngestSettings().build_ack_wait_s == 30.0
    monkeypatch.setenv("GRAPHRAG_INGEST_BUILD_ACK_WAIT_S", "90")
    assert GraphragIngestSettings().build_ack_wait_s == 90.0
    monkeypatch.setenv("GRAPHRAG_INGEST_BUILD_ACK_WAIT_S", "0.5")
    with pytest.raises(ValueError, match="build_ack_wait_s"):
        GraphragIngestSettings()
