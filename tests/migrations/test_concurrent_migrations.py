"""Replicas that start together migrate their database one at a time, and all of them start."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, text

from coagent_cli.fleet import SERVICES
from coagent_cli.stack import EmbeddedStack
from coagent_kit.db import find_migrations

pytestmark = pytest.mark.integration


def test_concurrent_upgrades_of_a_fresh_database_all_succeed(
    embedded_stack: EmbeddedStack,
) -> None:
    spec = next(s for s in SERVICES if s.name == "chat")
    url = embedded_stack.ensure_database(f"migrate-{uuid.uuid4().hex[:8]}")
    migrations = find_migrations(str(importlib.import_module(spec.package).__file__))

    # Separate processes, like replicas (Alembic's context is process-global, not per thread).
    script = "import sys; from pathlib import Path; from coagent_kit.db import upgrade_database; "
    script += "upgrade_database(sys.argv[1], Path(sys.argv[2]))"
    replicas = [
        subprocess.Popen([sys.executable, "-c", script, url, str(migrations)], text=True)
        for _ in range(3)
    ]
    assert [p.wait(timeout=120) for p in replicas] == [0, 0, 0]  # every replica started
    engine = create_engine(url.replace("+asyncpg", "+psycopg"))
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert len(versions) == 1  # one head, written once
