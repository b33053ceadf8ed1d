"""What ``coagent up`` does, step by step, as functions the e2e tests call too."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from coagent_cli.fleet import SERVICES, FleetConfig, FleetError, fleet_secrets
from coagent_cli.stack import EmbeddedStack, StackConfig, StackError
from coagent_gateway.app import bootstrap_admin_standalone
from coagent_gateway.settings import GatewaySettings
from coagent_kit.db import find_migrations, upgrade_database
from coagent_kit.net import bind_error


def data_dir_from(env: Mapping[str, str]) -> Path:
    """``COAGENT_DATA_DIR``, or ``.data/`` in the working directory (the checkout for make)."""
    return Path(env.get("COAGENT_DATA_DIR") or ".data").resolve()


def stack_config_from(env: Mapping[str, str], data_dir: Path) -> StackConfig:
    """Ports of the embedded servers from ``COAGENT_*_PORT`` variables."""
    try:
        return StackConfig(
            data_dir=data_dir,
            host=env.get("COAGENT_STACK_HOST", "127.0.0.1"),
            nats_port=int(env.get("COAGENT_NATS_PORT", 4222)),
            nats_monitor_port=int(env.get("COAGENT_NATS_MONITOR_PORT", 8222)),
            redis_port=int(env.get("COAGENT_REDIS_PORT", 6379)),
        )
    except ValueError as exc:
        raise StackError(f"a COAGENT_*_PORT variable is not a number: {exc}") from exc


def check_service_ports(config: FleetConfig) -> None:
    """Fail before starting anything if a service port is taken."""
    for spec in SERVICES:
        port = config.port(spec)
        if bind_error(config.host, port) is not None:
            raise FleetError(
                f"port {port} ({spec.name}) is already in use on {config.host}; "
                f"set {spec.port_variable()}"
            )


def prepare_databases(stack: EmbeddedStack) -> dict[str, str]:
    """One role and database per service, migrated to head; returns the URLs by service."""
    urls = {spec.name: stack.ensure_database(spec.name) for spec in SERVICES if spec.has_database}
    for spec in SERVICES:
        if spec.has_database:
            package = importlib.import_module(spec.package)
            upgrade_database(urls[spec.name], find_migrations(str(package.__file__)))
    return urls


def bootstrap_admin(data_dir: Path, database_url: str) -> tuple[str, str | None]:
    """Create the first super admin: (username, password if it was generated now)."""
    dev_secrets = fleet_secrets(data_dir)
    settings = GatewaySettings(
        database_url=database_url,
        internal_token_secret=SecretStr(dev_secrets["internal_token_secret"]),
        jwt_secret=SecretStr(dev_secrets["jwt_secret"]),
    )
    return asyncio.run(bootstrap_admin_standalone(settings))
