"""``python -m coagent_workflow_engine [serve|migrate]``."""

import coagent_workflow_engine
from coagent_kit.db import find_migrations
from coagent_kit.runner import run_service
from coagent_workflow_engine.app import create_app
from coagent_workflow_engine.settings import WorkflowEngineSettings

if __name__ == "__main__":
    run_service(
        WorkflowEngineSettings, create_app, find_migrations(coagent_workflow_engine.__file__)
    )
