"""Database helpers and the Alembic runner, against the session's real PostgreSQL."""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, String, Table, UniqueConstraint, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.schema import CreateTable

from coagent_cli.stack import EmbeddedStack
from coagent_kit.db import (
    DatabaseUnavailable,
    alembic_config,
    create_engine,
    find_migrations,
    new_metadata,
    ping,
    session_factory,
    upgrade_database,
)

UNREACHABLE = "postgresql+asyncpg://nobody:secret@127.0.0.1:1/nothing"

# ------------------------------------------------------------------ no server needed


def _touch(path: Path, content: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def test_find_migrations_beside_src(tmp_path: Path) -> None:
    package = _touch(tmp_path / "svc" / "src" / "coagent_svc" / "__init__.py")
    _touch(tmp_path / "svc" / "migrations" / "env.py")
    assert find_migrations(str(package)) == (tmp_path / "svc" / "migrations").resolve()


def test_find_migrations_inside_the_installed_package(tmp_path: Path) -> None:
    package = _touch(tmp_path / "site-packages" / "coagent_svc" / "__init__.py")
    _touch(tmp_path / "site-packages" / "coagent_svc" / "migrations" / "env.py")
    # A folder beside src/ without env.py is not a migrations folder.
    (tmp_path / "migrations").mkdir()
    expected = (tmp_path / "site-packages" / "coagent_svc" / "migrations").resolve()
    assert find_migrations(str(package)) == expected


def test_find_migrations_missing(tmp_path: Path) -> None:
    package = _touch(tmp_path / "svc" / "src" / "coagent_svc" / "__init__.py")
    with pytest.raises(FileNotFoundError, match="coagent_svc"):
        find_migrations(str(package))


def test_alembic_config_is_built_in_code(tmp_path: Path) -> None:
    config = alembic_config("postgresql+asyncpg://u:p@/db", tmp_path)
    assert config.get_main_option("script_location") == str(tmp_path)
    assert config.attributes["database_url"] == "postgresql+asyncpg://u:p@/db"
    assert config.config_file_name is None


def test_naming_convention_names_constraints() -> None:
    metadata = new_metadata()
    table = Table(
        "rooms",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("slug", String(20)),
        UniqueConstraint("slug"),
    )
    ddl = str(CreateTable(table).compile(dialect=postgresql.dialect()))
    assert "CONSTRAINT pk_rooms PRIMARY KEY" in ddl
    assert "CONSTRAINT uq_rooms_slug UNIQUE" in ddl


async def test_upgrade_against_an_unreachable_database_fails_fast(tmp_path: Path) -> None:
    migrations = _write_migrations(tmp_path)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="^cannot reach the database: "):
        await asyncio.to_thread(upgrade_database, UNREACHABLE, migrations)
    assert time.monotonic() - started < 5


async def test_upgrade_without_a_url_is_refused(tmp_path: Path) -> None:
    migrations = _write_migrations(tmp_path)
    with pytest.raises(RuntimeError, match="no database URL"):
        await asyncio.to_thread(upgrade_database, "", migrations)


async def test_ping_unreachable_raises() -> None:
    engine = create_engine(UNREACHABLE)
    try:
        with pytest.raises(OSError, match="Connect call failed"):
            await ping(engine)
    finally:
        await engine.dispose()


# ------------------------------------------------------------------ real PostgreSQL

MODELS = """
from sqlalchemy import Column, Integer, String, Table

from coagent_kit.db import new_metadata

metadata = new_metadata()
Table("kit_widgets", metadata, Column("id", Integer, primary_key=True), Column("name", String(50)))
"""

ENV = """
import importlib.util
from pathlib import Path

from coagent_kit.db import run_migrations

spec = importlib.util.spec_from_file_location("kit_models", Path(__file__).with_name("models.py"))
models = importlib.util.module_from_spec(spec)
spec.loader.exec_module(models)
run_migrations(models.metadata)
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    {upgrade}


def downgrade() -> None:
    {downgrade}
"""


def _write_migrations(root: Path) -> Path:
    folder = root / "migrations"
    _touch(folder / "env.py", textwrap.dedent(ENV))
    _touch(folder / "models.py", textwrap.dedent(MODELS))
    _touch(
        folder / "versions" / "0001_widgets.py",
        REVISION.format(
            rev="0001",
            down=None,
            upgrade='op.create_table("kit_widgets", sa.Column("id", sa.Integer, primary_key=True))',
            downgrade='op.drop_table("kit_widgets")',
        ),
    )
    _touch(
        folder / "versions" / "0002_widget_name.py",
        REVISION.format(
            rev="0002",
            down="0001",
            upgrade='op.add_column("kit_widgets", sa.Column("name", sa.String(50)))',
            downgrade='op.drop_column("kit_widgets", "name")',
        ),
    )
    return folder


@pytest.fixture
async def migrations_url(embedded_stack: EmbeddedStack) -> str:
    """A database of its own with none of the demo migrations applied."""
    url = embedded_stack.ensure_database("kit-migrations")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("drop table if exists kit_widgets, alembic_version"))
    finally:
        await engine.dispose()
    return url


@pytest.fixture
async def kit_engine(kit_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(kit_database_url)
    yield engine
    await engine.dispose()


@pytest.mark.integration
async def test_create_engine_and_ping(kit_engine: AsyncEngine) -> None:
    await ping(kit_engine)
    assert kit_engine.pool.size() == 5  # type: ignore[attr-defined]
    async with kit_engine.connect() as conn:
        assert (await conn.execute(text("select current_user"))).scalar() == "coagent_kit_tests"


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("select pg_backend_pid()"))).scalar_one())


@pytest.mark.integration
async def test_a_pooled_connection_the_server_closed_is_replaced(
    kit_engine: AsyncEngine, kit_database_url: str
) -> None:
    first = await _backend_pid(kit_engine)  # now idle in the pool
    other = create_engine(kit_database_url)
    try:
        async with other.connect() as conn:
            await conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": first})
    finally:
        await other.dispose()
    await asyncio.sleep(0.2)  # the driver notices the closed socket

    assert await _backend_pid(kit_engine) != first


@pytest.mark.integration
async def test_only_idle_connections_are_pinged_on_checkout(
    kit_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    dialect = kit_engine.sync_engine.dialect
    ping_once = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda c: pings.append(c) or ping_once(c))
    pid = await _backend_pid(kit_engine)  # a new connection: not pinged
    assert await _backend_pid(kit_engine) == pid  # back from the pool at once: not pinged
    assert pings == []

    monkeypatch.setattr("coagent_kit.db.PING_AFTER_IDLE_S", 0.0)
    assert await _backend_pid(kit_engine) == pid
    assert len(pings) == 1


@pytest.mark.integration
async def test_sessions_keep_objects_after_commit(kit_engine: AsyncEngine) -> None:
    sessions = session_factory(kit_engine)
    assert sessions.kw["expire_on_commit"] is False
    async with sessions() as session, session.begin():
        assert (await session.execute(text("select 41 + 1"))).scalar() == 42


async def _columns(url: str) -> tuple[str | None, list[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(text("select version_num from alembic_version"))).scalar()
            columns = (
                await conn.execute(
                    text(
                        "select column_name from information_schema.columns "
                        "where table_name = 'kit_widgets' order by ordinal_position"
                    )
                )
            ).scalars()
            return version, list(columns)
    finally:
        await engine.dispose()


@pytest.mark.integration
async def test_upgrade_database_applies_revisions(migrations_url: str, tmp_path: Path) -> None:
    migrations = _write_migrations(tmp_path)
    # Alembic's env.py runs its own event loop, as `python -m coagent_x migrate` does.
    await asyncio.to_thread(upgrade_database, migrations_url, migrations, "0001")
    assert await _columns(migrations_url) == ("0001", ["id"])
    await asyncio.to_thread(upgrade_database, migrations_url, migrations)
    assert await _columns(migrations_url) == ("0002", ["id", "name"])
    # Running again at head is a no-op (every service migrates at every start).
    await asyncio.to_thread(upgrade_database, migrations_url, migrations)
    assert await _columns(migrations_url) == ("0002", ["id", "name"])
