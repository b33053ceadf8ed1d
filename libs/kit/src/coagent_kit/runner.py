"""``python -m coagent_<service> [serve|migrate]``: start-up with one-line errors for operators.

Everything that commonly goes wrong at start-up (bad settings, a busy port, an unreachable
broker or database) is checked before uvicorn starts, and reported as a single line on stderr
with exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from coagent_kit.broker import BrokerUnavailable, ensure_streams
from coagent_kit.db import DatabaseUnavailable, upgrade_database
from coagent_kit.logging import get_logger, setup_logging
from coagent_kit.net import bind_error
from coagent_kit.settings import ConfigurationError, ServiceSettings
from coagent_kit.tracing import setup_tracing

log = get_logger(__name__)
S = TypeVar("S", bound=ServiceSettings)


class StartupError(RuntimeError):
    """A start-up problem the operator must fix; ``str()`` is the whole message."""


def fail(service: str, message: str) -> NoReturn:
    """Print ``<service>: <message>`` on stderr and exit 2."""
    print(f"coagent-{service}: {message}", file=sys.stderr)  # noqa: T201
    raise SystemExit(2)


def load_settings(settings_cls: type[S]) -> S:
    """Build settings or raise :class:`StartupError` naming the variable at fault."""
    try:
        return settings_cls()
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, ConfigurationError):
            raise StartupError(f"configuration error: {cause}") from exc
        field = str(first["loc"][0]) if first["loc"] else ""
        variable = settings_cls.env_name(field) if field else settings_cls.__name__
        raise StartupError(f"configuration error: {variable}: {first['msg']}") from exc


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`StartupError` if ``host:port`` cannot be bound."""
    error = bind_error(host, port)
    if error is not None:
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror}") from error


def run_service(
    settings_cls: type[ServiceSettings],
    create_app: Callable[[ServiceSettings], FastAPI],
    migrations_dir: Path | None,
    argv: list[str] | None = None,
) -> None:
    """Entry point shared by every service's ``__main__``."""
    name = settings_cls.service_name
    parser = argparse.ArgumentParser(prog=f"python -m coagent_{name.replace('-', '_')}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    try:
        settings = load_settings(settings_cls)
        setup_logging(name, settings.log_level)
        setup_tracing(name, settings.otlp_endpoint)
        database_url = getattr(settings, "database_url", None)
        if args.command == "migrate":
            _migrate(database_url, migrations_dir)
            return
        _preflight(settings, database_url, migrations_dir)
    except StartupError as exc:
        fail(name, str(exc))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )


def _migrate(database_url: str | None, migrations_dir: Path | None) -> None:
    if database_url is None or migrations_dir is None:
        raise StartupError("this service has no database to migrate")
    try:
        upgrade_database(database_url, migrations_dir)
    except (DatabaseUnavailable, OSError) as exc:
        raise StartupError(str(exc)) from exc
    log.info("migrations_applied", migrations=str(migrations_dir))


def _preflight(
    settings: ServiceSettings, database_url: str | None, migrations_dir: Path | None
) -> None:
    check_port_free(settings.host, settings.port)
    try:
        asyncio.run(
            ensure_streams(
                settings.nats_url,
                wait_s=settings.connect_timeout_s,
                replicas=settings.stream_replicas,
            )
        )
    except BrokerUnavailable as exc:
        raise StartupError(str(exc)) from exc
    if settings.migrate_on_start and database_url is not None and migrations_dir is not None:
        _migrate(database_url, migrations_dir)
