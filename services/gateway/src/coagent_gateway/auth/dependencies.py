"""Who is calling: the access cookie (browsers), ``Authorization: Bearer`` or a personal API key.

An API key (``cak_…``) is accepted as a Bearer token or in ``X-API-Key`` wherever
:data:`CurrentUser` is used; a key without the ``write`` scope may only read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from coagent_gateway.auth.api_keys import (
    ApiKey,
    ApiKeyService,
    InsufficientScope,
    looks_like_api_key,
)
from coagent_gateway.auth.domain import InvalidToken, NotAuthenticated
from coagent_gateway.auth.service import AuthService
from coagent_gateway.domain import User

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
API_KEY_HEADER = "x-api-key"


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
    bearer = _bearer(request)
    return None if bearer is None or looks_like_api_key(bearer) else bearer


def client_ip(request: Request) -> str | None:
    """The peer address (the gateway is the edge; proxies are not trusted by default)."""
    return request.client.host if request.client else None


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def api_key_of(request: Request) -> str | None:
    """A personal API key from ``X-API-Key`` or ``Authorization: Bearer cak_…``."""
    header = request.headers.get(API_KEY_HEADER, "").strip()
    if header:
        return header
    bearer = _bearer(request)
    return bearer if bearer is not None and looks_like_api_key(bearer) else None


def api_key_used(request: Request) -> ApiKey | None:
    """The API key this request was authenticated with (None for a session)."""
    key: ApiKey | None = getattr(request.state, "api_key", None)
    return key


async def _by_api_key(request: Request, secret: str) -> User:
    keys: ApiKeyService | None = getattr(request.app.state, "api_keys", None)
    if keys is None or not looks_like_api_key(secret):
        raise InvalidToken("Invalid API key", code="api_key_invalid")
    user, key = await keys.authenticate(secret)
    if not key.allows(request.method):
        raise InsufficientScope("This API key may only read (scope 'write' is missing)")
    request.state.api_key = key
    return user


async def current_user(request: Request, auth: Auth) -> User:
    """The authenticated, active user; 401 otherwise (403 for a write with a read-only key)."""
    secret = api_key_of(request)
    if secret is not None:
        return await _by_api_key(request, secret)
    token = access_token_of(request)
    if token is None:
        raise NotAuthenticated("Not authenticated")
    return await auth.authenticate(token)


CurrentUser = Annotated[User, Depends(current_user)]
