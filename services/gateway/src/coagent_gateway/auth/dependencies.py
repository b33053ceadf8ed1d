"""Who is calling: the access cookie (browsers) or ``Authorization: Bearer`` (programs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from coagent_gateway.auth.domain import NotAuthenticated
from coagent_gateway.auth.service import AuthService
from coagent_gateway.domain import User

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"


def auth_service(request: Request) -> AuthService:
    """The app's :class:`AuthService`."""
    service: AuthService = request.app.state.auth
    return service


Auth = Annotated[AuthService, Depends(auth_service)]


def access_token_of(request: Request) -> str | None:
    """The cookie first (the web client), then a Bearer header (programs)."""
    cookie = request.cookies.get(ACCESS_COOKIE)
    if cookie:
        return cookie
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def client_ip(request: Request) -> str | None:
    """The peer address (the gateway is the edge; proxies are not trusted by default)."""
    return request.client.host if request.client else None


async def current_user(request: Request, auth: Auth) -> User:
    """The authenticated, active user; 401 otherwise."""
    token = access_token_of(request)
    if token is None:
        raise NotAuthenticated("Not authenticated")
    return await auth.authenticate(token)


CurrentUser = Annotated[User, Depends(current_user)]
