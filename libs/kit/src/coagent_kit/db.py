"""Async SQLAlchemy helpers and the Alembic runner every service's ``migrations/env.py`` calls."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

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


def create_engine(url: str) -> AsyncEngine:
    """The service's engine; pre-ping so a restarted Postgres does not surface as errors."""
    return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


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
        context.run_migrations()
