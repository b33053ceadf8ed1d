"""Installs the users feature on an app: services on ``app.state``, routes, avatar files."""

from __future__ import annotations

from fastapi import FastAPI

from coagent_gateway.auth.api_keys import ApiKeyService
from coagent_gateway.auth.ports import AccountStore
from coagent_gateway.users.endpoints import router as users_router
from coagent_gateway.users.keys_endpoints import router as keys_router
from coagent_gateway.users.keys_endpoints import static_router
from coagent_gateway.users.service import UserPorts, UserService


def install_users(app: FastAPI, ports: UserPorts, accounts: AccountStore) -> None:
    """Users, personal API keys (also accepted by ``CurrentUser``), the audit log, avatars."""
    app.state.users = UserService(ports)
    app.state.api_keys = ApiKeyService(ports.api_keys, accounts, ports.audit)
    app.state.avatars = ports.avatars
    app.include_router(users_router)
    app.include_router(keys_router)
    app.include_router(static_router)
