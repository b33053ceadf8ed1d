"""``python -m coagent_trigger [serve|migrate]``."""

import coagent_trigger
from coagent_kit.db import find_migrations
from coagent_kit.runner import run_service
from coagent_trigger.app import create_app
from coagent_trigger.settings import TriggerSettings

if __name__ == "__main__":
    run_service(TriggerSettings, create_app, find_migrations(coagent_trigger.__file__))
