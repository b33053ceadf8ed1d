"""Pytest fixtures that start the real embedded servers once per test session.

Loaded from the root ``conftest.py``; every service's integration tests use the same servers, each
on free loopback ports and in a temporary data directory deleted at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coagent_cli.fleet import SERVICES, Fleet, FleetConfig
from coagent_cli.stack import EmbeddedStack, StackConfig, free_port
from coagent_cli.up import bootstrap_admin, prepare_databases
from coagent_kit.db import create_engine, find_migrations, session_factory, upgrade_database

T = TypeVar("T")


def ephemeral_stack_config(data_dir: Path) -> StackConfig:
    """A stack on free ports whose data is removed on stop."""
    return StackConfig(
        data_dir=data_dir,
        nats_port=free_port(),
        nats_monitor_port=free_port(),
        redis_port=free_port(),
        ephemeral=True,
    )


def scratch_dir(prefix: str) -> Path:
    """A fresh directory outside pytest's 0700 base, which the PostgreSQL user must traverse."""
    return Path(tempfile.mkdtemp(prefix=f"coagent-{prefix}-"))


@pytest.fixture(scope="session")
def embedded_stack() -> Iterator[EmbeddedStack]:
    """NATS (JetStream), PostgreSQL and FalkorDB, started on first use in the session."""
    with EmbeddedStack(ephemeral_stack_config(scratch_dir("stack"))) as stack:
        yield stack


@pytest.fixture(scope="session")
def nats_url(embedded_stack: EmbeddedStack) -> str:
    """URL of the session's NATS server (JetStream enabled)."""
    return embedded_stack.endpoints.nats_url


@pytest.fixture(scope="session")
def redis_url(embedded_stack: EmbeddedStack) -> str:
    """URL of the session's Redis server, which has the FalkorDB module loaded."""
    return embedded_stack.endpoints.redis_url


@pytest.fixture(scope="session")
def graph_url(embedded_stack: EmbeddedStack) -> str:
    """URL of the FalkorDB graph store (the same server as ``redis_url``)."""
    return embedded_stack.endpoints.graph_url


@pytest.fixture(scope="session")
def postgres_admin_uri(embedded_stack: EmbeddedStack) -> str:
    """Superuser URI of the session's PostgreSQL (unix socket)."""
    return embedded_stack.endpoints.postgres_admin_uri


@pytest.fixture(scope="session")
def service_database_url(embedded_stack: EmbeddedStack) -> Callable[[str], str]:
    """``service_database_url("chat")``: the service's own database, migrated to head."""
    migrated: dict[str, str] = {}
    packages = {spec.name: spec.package for spec in SERVICES}

    def get(name: str) -> str:
        if name not in migrated:
            url = embedded_stack.ensure_database(name)
            package = importlib.import_module(packages[name])
            upgrade_database(url, find_migrations(str(package.__file__)))
            migrated[name] = url
        return migrated[name]

    return get


# The fixtures below serve every service's integration tests: a test module (or its folder's
# conftest) names its database with a module-scoped ``database_url`` fixture, typically
# ``service_database_url("chat")`` (sync: migrating runs its own event loop, which cannot start
# inside the running one), and gets an engine and sessions on it.


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the module's ``database_url``, disposed after the module."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the module's database."""
    return session_factory(engine)


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    """A plain NATS connection to the session's server, closed after the test."""
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@contextmanager
def running_fleet(admin_email: str, admin_password: str) -> Iterator[Fleet]:
    """Embedded stack, migrations, a super admin and all six services on free ports, ready.

    The same steps as ``coagent up``; used by the e2e tier and the benchmarks.
    """
    with running_stack_and_fleet(admin_email, admin_password) as (_, fleet):
        yield fleet


@contextmanager
def running_stack_and_fleet(
    admin_email: str, admin_password: str, env: Mapping[str, str] | None = None
) -> Iterator[tuple[EmbeddedStack, Fleet]]:
    """:func:`running_fleet`, also yielding the embedded stack (fault tests restart its NATS).

    ``env`` is added to every service's environment (e.g. shorter leases for a fault test).
    """
    data_dir = scratch_dir("fleet")
    saved = {k: os.environ.get(k) for k in ("COAGENT_ADMIN_EMAIL", "COAGENT_ADMIN_PASSWORD")}
    os.environ.update(COAGENT_ADMIN_EMAIL=admin_email, COAGENT_ADMIN_PASSWORD=admin_password)
    try:
        with EmbeddedStack(ephemeral_stack_config(data_dir / "stack")) as stack:
            urls = prepare_databases(stack)
            bootstrap_admin(data_dir, urls["gateway"])
            config = FleetConfig(
                data_dir=data_dir,
                ports={s.name: free_port() for s in SERVICES},
                env=dict(env or {}),
            )
            fleet = Fleet(config, stack.endpoints, urls)
            fleet.start()
            try:
                fleet.wait_ready(timeout_s=90)
                yield stack, fleet
            finally:
                fleet.stop()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(data_dir, ignore_errors=True)


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str = "condition", timeout_s: float = 20.0
) -> T:
    """Poll ``probe`` until it returns something truthy; fail clearly at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s}s")
        await asyncio.sleep(0.05)


async def fresh_consumer(nats_url: str, stream: str, durable: str) -> None:
    """Delete a durable consumer so the next app starts it anew.

    Messages an earlier app fetched but did not settle before it stopped would otherwise hold
    the consumer's ack floor back for a whole ack wait (30 s).
    """
    nc = await nats.connect(nats_url)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_consumer(stream, durable)
    finally:
        await nc.close()
