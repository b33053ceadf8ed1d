"""Gateway settings: the fleet's public address and the first admin come from ``COAGENT_*``."""

from __future__ import annotations

import os

import pytest

from coagent_gateway.settings import INTERNAL_SERVICES, GatewaySettings
from coagent_kit.settings import ServiceSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("COAGENT_", "GATEWAY_", "CHAT_")):
            monkeypatch.delenv(name)


def test_coagent_host_and_port_apply_to_the_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COAGENT_PORT", "9090")
    monkeypatch.setenv("COAGENT_HOST", "0.0.0.0")

    cfg = GatewaySettings()

    assert (cfg.host, cfg.port) == ("0.0.0.0", 9090)
    # ... but not to an internal service, which keeps its own port.
    assert ServiceSettings().port == 8100


def test_defaults_without_environment() -> None:
    cfg = GatewaySettings()
    assert (cfg.host, cfg.port) == ("127.0.0.1", 8000)
    assert cfg.admin_email == "admin@coagent.local"
    assert cfg.admin_password is None


def test_the_admin_settings_are_read_from_coagent_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COAGENT_ADMIN_EMAIL", "boss@example.org")
    monkeypatch.setenv("COAGENT_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("COAGENT_ADMIN_PASSWORD", "correct horse battery")

    cfg = GatewaySettings()

    assert cfg.admin_email == "boss@example.org"
    assert cfg.admin_username == "boss"
    assert cfg.admin_password is not None
    assert cfg.admin_password.get_secret_value() == "correct horse battery"


def test_the_database_url_is_not_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COAGENT_DATABASE_URL", "postgresql+asyncpg://elsewhere/db")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql+asyncpg://gw/db")

    assert GatewaySettings().database_url == "postgresql+asyncpg://gw/db"


def test_service_urls_list_the_five_internal_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_CHAT_URL", "http://chat.internal:8101")

    urls = GatewaySettings().service_urls()

    assert len(urls) == 5
    assert (
        set(urls)
        == set(INTERNAL_SERVICES)
        == {
            "chat",
            "workflow-engine",
            "trigger",
            "graphrag-ingest",
            "graphrag-query",
        }
    )
    assert urls["chat"] == "http://chat.internal:8101"
    assert urls["workflow-engine"] == "http://127.0.0.1:8102"
    assert urls["graphrag-query"] == "http://127.0.0.1:8105"
