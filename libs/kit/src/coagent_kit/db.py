"""Async SQLAlchemy helpers and the Alembic runner every service's ``migrations/env.py`` calls."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, event, exc, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

#: Names constraints the same way in every service so Alembic autogenerate diffs stay stable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; the message is one line for the operator."""


def new_metadata() -> MetaData:
    """A service's metadata with the fleet's naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


#: A pooled connection idle for longer than this is pinged before it is handed out again.
PING_AFTER_IDLE_S = 5.0
_CHECKED_IN_AT = "coagent_checked_in_at"


def create_engine(url: str) -> AsyncEngine:
    """The service's engine; checks pooled connections so a restarted Postgres is not an error."""
    engine = create_async_engine(url, pool_size=5, max_overflow=10)
    _check_on_checkout(engine)
    return engine


def _check_on_checkout(engine: AsyncEngine) -> None:
    """``pool_pre_ping``, minus the round trips on connections that were just in use.

    SQLAlchemy's pre-ping runs ``BEGIN; ; ROLLBACK`` (three round trips) on every checkout: a
    large share of the CPU of a short request or event handler, most of which check a connection
    out several times. Here a connection the server has closed (a restart, an idle timeout: the
    driver sees the socket close) is refused without a round trip, and only one that sat idle
    longer than :data:`PING_AFTER_IDLE_S` is pinged. Refused connections are replaced by the pool
    (``DisconnectionError``), exactly as a failed pre-ping would be.
    """
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def checkin(_: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def checkout(
        dbapi_connection: Any, record: ConnectionPoolEntry, _: PoolProxiedConnection
    ) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None:
            return  # just connected
        is_closed = getattr(record.driver_connection, "is_closed", None)  # asyncpg's
        if is_closed is not None and is_closed():
            raise exc.DisconnectionError("the server closed the connection")
        if time.monotonic() - checked_in_at < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError(str(error)) from error
            raise


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database does not answer ``select 1``."""
    async with engine.connect() as conn:
        await conn.execute(text("select 1"))


def find_migrations(package_file: str) -> Path:
    """The ``migrations`` folder of a service: inside the installed package, or beside ``src/``."""
    package_dir = Path(package_file).resolve().parent
    for candidate in (package_dir / "migrations", package_dir.parents[1] / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError(f"no migrations folder for {package_dir.name}")


def alembic_config(database_url: str, migrations_dir: Path) -> Config:
    """An Alembic configuration built in code (no alembic.ini to keep in sync)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


#: Advisory lock taken while a database is migrated (an arbitrary constant, distinct from the
#: outbox relay's).
MIGRATION_LOCK_KEY = 0x636F6D6967  # "comig"


def upgrade_database(database_url: str, migrations_dir: Path, revision: str = "head") -> None:
    """Apply migrations up to ``revision``; raise :class:`DatabaseUnavailable` when unreachable."""
    try:
        command.upgrade(alembic_config(database_url, migrations_dir), revision)
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot reach the database: {exc}") from exc


def run_migrations(target_metadata: MetaData) -> None:
    """Body of every service's ``env.py``: run Alembic online over an async engine."""
    url = context.config.attributes.get("database_url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL given to Alembic")
    asyncio.run(_run_async(url, target_metadata))


async def _run_async(url: str, target_metadata: MetaData) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run_sync, target_metadata)
            await conn.commit()
    finally:
        await engine.dispose()


def _run_sync(connection: Connection, target_metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        # Replicas starting together (Kubernetes init containers, compose) migrate one at a time:
        # the others wait here, then find the schema at head and do nothing. Transaction-scoped,
        # so a migrator that dies releases it with its connection.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()
