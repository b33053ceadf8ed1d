"""The configuration the manifests hand each service is the configuration its code reads: every
variable names a real setting, production settings load from the ConfigMaps plus the Secrets
that deploy/k8s/dev-secrets.sh prints, and the dev stores accept those credentials."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet

from coagent_kit.settings import SHARED_PREFIX, ServiceSettings

from .manifests import (
    K8S,
    ROOT,
    SERVICE_NAMES,
    config_data,
    dev_secrets,
    find,
    main_container,
    render,
    secret_refs,
    service_facts,
)

#: Store settings passed exactly as compose.yaml passes them, for the Neo4j and Qdrant adapters
#: of the graph store (fleet-wide variables not declared by the service settings classes).
GRAPH_STORE_VARIABLES = {
    "COAGENT_NEO4J_URI",
    "COAGENT_NEO4J_USER",
    "COAGENT_NEO4J_PASSWORD",
    "COAGENT_QDRANT_URL",
}


def _environment(overlay: str, name: str, secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    docs = render(overlay)
    deployment = find(docs, "Deployment", name)[0]
    env = config_data(docs, deployment)
    for ref in secret_refs(deployment):
        env.update(secrets[ref])
    return env


def _field(settings_cls: type[ServiceSettings], variable: str) -> str | None:
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    for start in (prefix, SHARED_PREFIX):
        field = variable.removeprefix(start).lower()
        if variable.startswith(start) and field in settings_cls.model_fields:
            return field
    return None


@pytest.fixture(scope="module")
def secrets() -> dict[str, dict[str, str]]:
    return dev_secrets()


@pytest.mark.parametrize("overlay", ["dev", "prod"])
@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_variable_is_a_setting_of_the_service(
    overlay: str, name: str, secrets: dict[str, dict[str, str]]
) -> None:
    settings_cls = service_facts(name).settings_cls
    env = _environment(overlay, name, secrets)

    unknown = {v for v in env if _field(settings_cls, v) is None} - GRAPH_STORE_VARIABLES

    assert unknown == set()


@pytest.mark.parametrize("overlay", ["dev", "prod"])
@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_production_settings_load_from_the_manifests(
    overlay: str, name: str, secrets: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    facts = service_facts(name)
    env = _environment(overlay, name, secrets)
    for variable in list(os.environ):
        if variable.startswith((SHARED_PREFIX, facts.prefix)):
            monkeypatch.delenv(variable)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)

    # Production refuses placeholder or short secrets: loading proves the manifests and the
    # generated Secrets are complete.
    settings = facts.settings_cls()

    assert settings.env == "prod"
    assert (settings.host, settings.port) == ("0.0.0.0", facts.port)
    assert settings.migrate_on_start is not facts.has_database
    assert settings.stream_replicas == (1 if overlay == "dev" else 3)
    assert settings.otlp_endpoint == "http://otel-collector:4318"
    container = main_container(find(render(overlay), "Deployment", name)[0])
    assert container["ports"][0]["containerPort"] == facts.port


def test_dev_secrets_cover_every_secret_the_fleet_refers_to(
    secrets: dict[str, dict[str, str]],
) -> None:
    docs = render("dev")
    referred = {ref for d in find(docs, "Deployment") for ref in _all_secret_refs(d)}
    referred |= {
        env["valueFrom"]["secretKeyRef"]["name"]
        for d in [*find(docs, "StatefulSet"), *find(docs, "Deployment")]
        for c in d["spec"]["template"]["spec"]["containers"]
        for env in c.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }

    assert referred == set(secrets)


def _all_secret_refs(deployment: dict[str, Any]) -> set[str]:
    spec = deployment["spec"]["template"]["spec"]
    return {
        ref["secretRef"]["name"]
        for c in [*spec.get("initContainers", []), *spec["containers"]]
        for ref in c.get("envFrom", [])
        if "secretRef" in ref
    }


def test_database_urls_use_the_roles_the_dev_postgres_creates(
    secrets: dict[str, dict[str, str]],
) -> None:
    stores = secrets["coagent-dev-stores"]
    (script,) = [
        d
        for d in find(render("dev"), "ConfigMap")
        if d["metadata"]["name"].startswith("postgres-init-")
    ]
    created = dict(
        re.findall(
            r'^create_service_database (\w+) "\$\{(\w+):-\}"',
            script["data"]["10-coagent-databases.sh"],
            re.M,
        )
    )
    for name in SERVICE_NAMES:
        facts = service_facts(name)
        if not facts.has_database:
            continue
        url = urlsplit(secrets[name][f"{facts.prefix}DATABASE_URL"])
        role = name.replace("-", "_")
        assert (url.scheme, url.hostname, url.port, url.path) == (
            "postgresql+asyncpg",
            "postgres",
            5432,
            f"/{role}",
        )
        assert url.username == role
        assert url.password == stores[created[role]]
    redis = urlsplit(secrets["coagent-common"]["COAGENT_REDIS_URL"])
    assert (redis.hostname, redis.password) == ("redis", stores["REDIS_PASSWORD"])


def test_dev_secrets_are_fresh_and_strong() -> None:
    first, second = dev_secrets(), dev_secrets()

    key = first["workflow-engine"]["WORKFLOW_ENGINE_ENCRYPTION_KEYS"]
    Fernet(key.encode())  # a usable Fernet key, not merely random text
    assert first["gateway"]["GATEWAY_JWT_SECRET"] != second["gateway"]["GATEWAY_JWT_SECRET"]
    for values in first.values():
        for variable, value in values.items():
            if variable.endswith(("PASSWORD", "SECRET", "SECRET_KEY")):
                assert len(value) >= 32, variable


def test_the_dev_postgres_init_script_is_the_compose_one() -> None:
    # The dev cluster creates databases exactly as compose does; kustomize cannot read files
    # outside its directory, so the script is kept as a copy that must not drift.
    compose_script = ROOT / "deploy" / "compose" / "postgres" / "10-coagent-databases.sh"
    assert (K8S / "dev-stores" / "10-coagent-databases.sh").read_text() == (
        compose_script.read_text()
    )
