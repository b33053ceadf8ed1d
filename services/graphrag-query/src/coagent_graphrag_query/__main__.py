"""``python -m coagent_graphrag_query [serve]`` (it has no database, so nothing to migrate)."""

from coagent_graphrag_query.app import create_app
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_kit.runner import run_service

if __name__ == "__main__":
    run_service(GraphragQuerySettings, create_app, None)
