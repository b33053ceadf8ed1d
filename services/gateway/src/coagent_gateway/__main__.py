"""``python -m coagent_gateway [serve|migrate]``."""

import coagent_gateway
from coagent_gateway.app import create_app
from coagent_gateway.settings import GatewaySettings
from coagent_kit.db import find_migrations
from coagent_kit.runner import run_service

if __name__ == "__main__":
    run_service(GatewaySettings, create_app, find_migrations(coagent_gateway.__file__))
