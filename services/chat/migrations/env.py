"""Alembic environment of the chat database."""

from coagent_chat.adapters.postgres import metadata
from coagent_kit.db import run_migrations

run_migrations(metadata)
