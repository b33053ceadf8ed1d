"""``/api/v1/login/*``: the session routes of the reference web client, with real revocation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from coagent_gateway.auth.dependencies import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    Auth,
    access_token_of,
    client_ip,
)
from coagent_gateway.auth.domain import InvalidToken, NotAuthenticated, RefreshRejected, Session
from coagent_gateway.auth.schemas import TokenPair, UserRead

router = APIRouter(prefix="/api/v1/login", tags=["login"])
#: The refresh cookie is visible to every /login route, so the session probe can tell whether a
#: refresh would succeed (and answer 401 only then).
REFRESH_PATH = "/api/v1/login"
#: While impersonating, the admin's own refresh token waits here to restore their session.
ADMIN_REFRESH_COOKIE = "impersonator_refresh_token"
#: Read by the web client through ``document.cookie``: deliberately not HttpOnly.
IMPERSONATING_COOKIE = "is_impersonating"


def _secure(request: Request) -> bool:
    return bool(getattr(request.app.state.settings, "secure_cookies", False))


def _set_session_cookies(request: Request, response: Response, session: Session) -> None:
    secure = _secure(request)
    response.set_cookie(
        ACCESS_COOKIE,
        session.access_token,
        max_age=int(request.app.state.auth_codec.ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    response.set_cookie(
        REFRESH_COOKIE,
        session.refresh_token,
        max_age=int((session.refresh_expires_at - datetime.now(UTC)).total_seconds()),
        path=REFRESH_PATH,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def _token_pair(request: Request, session: Session) -> TokenPair:
    ttl = int(request.app.state.auth_codec.ttl.total_seconds())
    return TokenPair(access_token=session.access_token, expires_in=ttl)


@router.post("/access-token")
async def login(
    request: Request,
    response: Response,
    auth: Auth,
    username: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
) -> TokenPair:
    """Log in with email or username; sets the session cookies (and returns a bearer token)."""
    session = await auth.login(username, password, client_ip(request))
    _set_session_cookies(request, response, session)
    return _token_pair(request, session)


@router.post("/test-token")
async def test_token(request: Request, auth: Auth) -> UserRead | None:
    """The current user, or ``null``; 401 only when a refresh would succeed (so clients refresh)."""
    token = access_token_of(request)
    if token is not None:
        try:
            return UserRead.of(await auth.authenticate(token))
        except InvalidToken:
            pass
    refresh = request.cookies.get(REFRESH_COOKIE)
    if refresh and await auth.refresh_would_succeed(refresh):
        raise NotAuthenticated("Access token missing or expired; refresh the session")
    return None


@router.post("/refresh")
async def refresh(request: Request, response: Response, auth: Auth) -> TokenPair:
    """Rotate the refresh token and issue a new access token."""
    raw = request.cookies.get(REFRESH_COOKIE)
    if not raw:
        raise RefreshRejected("Refresh token missing")
    session = await auth.refresh(raw, client_ip(request))
    _set_session_cookies(request, response, session)
    return _token_pair(request, session)


@router.post("/logout")
async def logout(request: Request, response: Response, auth: Auth) -> dict[str, str]:
    """Revoke the session (refresh chain and access tokens) and clear the cookies."""
    await auth.logout(
        access_token_of(request), request.cookies.get(REFRESH_COOKIE), client_ip(request)
    )
    admin_refresh = request.cookies.get(ADMIN_REFRESH_COOKIE)
    if admin_refresh:
        # Logging out while impersonating ends the admin's waiting session too.
        await auth.logout(None, admin_refresh, client_ip(request))
    secure = _secure(request)
    response.delete_cookie(ACCESS_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_PATH, httponly=True, samesite="lax", secure=secure
    )
    _clear_impersonation_cookies(request, response)
    return {"message": "Logged out successfully"}


def _clear_impersonation_cookies(request: Request, response: Response) -> None:
    secure = _secure(request)
    response.delete_cookie(
        ADMIN_REFRESH_COOKIE, path=REFRESH_PATH, httponly=True, samesite="lax", secure=secure
    )
    response.delete_cookie(IMPERSONATING_COOKIE, path="/", samesite="lax", secure=secure)


@router.post("/impersonate/{user_id}")
async def impersonate(user_id: str, request: Request, response: Response, auth: Auth) -> TokenPair:
    """Super admins only: act as ``user_id``; the admin's session is kept to restore."""
    token = access_token_of(request)
    if token is None:
        raise NotAuthenticated("Not authenticated")
    session = await auth.impersonate(token, user_id, client_ip(request))
    secure = _secure(request)
    own_refresh = request.cookies.get(REFRESH_COOKIE)
    if own_refresh:
        response.set_cookie(
            ADMIN_REFRESH_COOKIE,
            own_refresh,
            max_age=int((session.refresh_expires_at - datetime.now(UTC)).total_seconds()),
            path=REFRESH_PATH,
            httponly=True,
            samesite="lax",
            secure=secure,
        )
    _set_session_cookies(request, response, session)
    response.set_cookie(
        IMPERSONATING_COOKIE,
        "true",
        max_age=int((session.refresh_expires_at - datetime.now(UTC)).total_seconds()),
        path="/",
        httponly=False,
        samesite="lax",
        secure=secure,
    )
    return _token_pair(request, session)


@router.post("/stop-impersonate")
async def stop_impersonate(request: Request, response: Response, auth: Auth) -> TokenPair:
    """End the impersonation and restore the admin's own session."""
    session = await auth.stop_impersonation(
        access_token_of(request),
        request.cookies.get(REFRESH_COOKIE),
        request.cookies.get(ADMIN_REFRESH_COOKIE),
        client_ip(request),
    )
    _set_session_cookies(request, response, session)
    _clear_impersonation_cookies(request, response)
    return _token_pair(request, session)
