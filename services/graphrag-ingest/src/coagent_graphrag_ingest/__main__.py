"""``python -m coagent_graphrag_ingest [serve|migrate]``."""

import coagent_graphrag_ingest
from coagent_graphrag_ingest.app import create_app
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_kit.db import find_migrations
from coagent_kit.runner import run_service

if __name__ == "__main__":
    migrations = find_migrations(coagent_graphrag_ingest.__file__)
    run_service(GraphragIngestSettings, create_app, migrations)
