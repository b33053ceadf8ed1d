"""``python -m coagent_chat [serve|migrate]``."""

import coagent_chat
from coagent_chat.app import create_app
from coagent_chat.settings import ChatSettings
from coagent_kit.db import find_migrations
from coagent_kit.runner import run_service

if __name__ == "__main__":
    run_service(ChatSettings, create_app, find_migrations(coagent_chat.__file__))
