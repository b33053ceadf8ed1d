"""Every service's Dockerfile runs its own package, built from the lock, in one shape."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from .layout import (
    COMPOSE_FILE,
    ROOT,
    SERVICE_DIRS,
    _dist_name,
    _dockerfile,
    _exposed_port,
    _instruction,
    _package,
    _port_env,
    _workspace_member_dirs,
)


def test_services_were_found() -> None:
    expected = {
        "gateway",
        "chat",
        "workflow-engine",
        "trigger",
        "graphrag-ingest",
        "graphrag-query",
    }
    assert set(SERVICE_DIRS) == expected


@pytest.mark.parametrize("service", SERVICE_DIRS)
def test_dockerfile_runs_the_service_package(service: str) -> None:
    dockerfile = _dockerfile(service)
    package = _package(service)

    assert (ROOT / "services" / service / "src" / package / "__init__.py").is_file()
    assert _instruction(dockerfile, "ENTRYPOINT") == [json.dumps(["python", "-m", package])]
    assert _instruction(dockerfile, "CMD") == ['["serve"]']
    (user,) = _instruction(dockerfile, "USER")
    assert user.split(":")[0] not in ("root", "0")
    assert re.search(rf"^\s*{_port_env(service)}={_exposed_port(service)}\s*\\?$", dockerfile, re.M)
    assert f"os.environ['{_port_env(service)}']" in dockerfile
    assert re.search(rf"^  {re.escape(service)}:$", COMPOSE_FILE.read_text(), re.MULTILINE)


@pytest.mark.parametrize("service", SERVICE_DIRS)
def test_dockerfile_installs_its_own_distribution_from_the_lock(service: str) -> None:
    runs = _instruction(_dockerfile(service), "RUN")
    syncs = [run for run in runs if "uv sync" in run]
    dependencies, project = syncs

    assert set(re.findall(r"--package\s+(\S+)", " ".join(syncs))) == {_dist_name(service)}
    for flag in ("--locked", "--no-dev", "--no-install-workspace", "type=cache"):
        assert flag in dependencies
    for flag in ("--locked", "--no-dev", "--no-editable", "type=cache"):
        assert flag in project


@pytest.mark.parametrize("service", SERVICE_DIRS)
def test_dockerfile_dependency_layer_sees_every_workspace_member(service: str) -> None:
    # uv can check uv.lock (--locked) only with every member's pyproject.toml present.
    copies = _instruction(_dockerfile(service), "COPY")
    copied = {
        m.group(1) for c in copies if (m := re.fullmatch(r"(\S+)/pyproject\.toml\s+/\S+/", c))
    }

    assert copied == set(_workspace_member_dirs())
    assert "pyproject.toml uv.lock /" in copies


def test_wheels_carry_their_migrations() -> None:
    # The image installs each service as a wheel and keeps no source tree, so Alembic's
    # migrations/ (beside src/) must be forced into the package, where find_migrations looks.
    with_migrations = [
        s for s in SERVICE_DIRS if (ROOT / "services" / s / "migrations" / "env.py").is_file()
    ]
    assert "gateway" in with_migrations
    for service in with_migrations:
        data = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
        hatch = data.get("tool", {}).get("hatch", {})
        forced = hatch.get("build", {}).get("targets", {}).get("wheel", {}).get("force-include", {})
        assert forced.get("migrations") == f"{_package(service)}/migrations", service


def test_dockerfiles_share_one_shape() -> None:
    def shape(service: str) -> str:
        text = "\n".join(
            line
            for line in _dockerfile(service).splitlines()
            if not re.fullmatch(r"COPY \S+/pyproject\.toml /\S+/", line)
        )
        port_env = _port_env(service)
        host_env = port_env.removesuffix("PORT") + "HOST"
        for token, placeholder in (
            (_dist_name(service), "@DIST@"),
            (_package(service), "@PACKAGE@"),
            (port_env, "@PORT_ENV@"),
            (host_env, "@HOST_ENV@"),
            (str(_exposed_port(service)), "@PORT@"),
            (service, "@SERVICE@"),
        ):
            text = re.sub(rf"(?<![\w-]){re.escape(token)}(?![\w-])", placeholder, text)
        return text

    shapes = {service: shape(service) for service in SERVICE_DIRS}
    reference = shapes["chat"]
    for service, text in shapes.items():
        assert text == reference, f"services/{service}/Dockerfile drifted from the common shape"
