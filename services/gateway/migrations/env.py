"""Alembic environment of the gateway database."""

from coagent_gateway.adapters.postgres import metadata
from coagent_kit.db import run_migrations

run_migrations(metadata)
