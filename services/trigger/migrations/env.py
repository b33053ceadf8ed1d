"""Alembic environment of the trigger database."""

from coagent_kit.db import run_migrations
from coagent_trigger.adapters.postgres import metadata

run_migrations(metadata)
