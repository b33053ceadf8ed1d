"""Alembic environment of the graphrag-ingest database."""

from coagent_graphrag_ingest.adapters.postgres import metadata
from coagent_kit.db import run_migrations

run_migrations(metadata)
