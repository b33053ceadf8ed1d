"""The internal identity token: the gateway signs who is calling, each service verifies it.

Short-lived (a minute by default) and audience-bound, so a token minted for one service cannot be
replayed against another.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict

from coagent_kit.errors import Unauthorized

ISSUER = "coagent-gateway"
TOKEN_TYPE = "internal"
HEADER = "X-Internal-Identity"
ALGORITHM = "HS256"


class InternalIdentity(BaseModel):
    """Who the gateway says is calling, and with which rights on the target resource."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    platform_role: str
    resource_role: str | None = None
    request_id: str | None = None


def sign_identity(
    secret: str, identity: InternalIdentity, audience: str, ttl: timedelta = timedelta(seconds=60)
) -> str:
    """A compact JWT for ``audience`` (the target service's name)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": audience,
        "typ": TOKEN_TYPE,
        "sub": identity.user_id,
        "role": identity.platform_role,
        "resource_role": identity.resource_role,
        "rid": identity.request_id,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_identity(secret: str, token: str, audience: str) -> InternalIdentity:
    """Decode and check signature, issuer, audience, expiry and type; raise ``Unauthorized``."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            leeway=5,
            options={"require": ["exp", "iat", "aud", "iss", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Internal identity token expired", code="identity_expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(
            f"Invalid internal identity token: {exc}", code="identity_invalid"
        ) from exc
    if claims.get("typ") != TOKEN_TYPE:
        raise Unauthorized("Not an internal identity token", code="identity_invalid")
    return InternalIdentity(
        user_id=claims["sub"],
        platform_role=claims["role"],
        resource_role=claims.get("resource_role"),
        request_id=claims.get("rid"),
    )


class IdentityVerifier:
    """Verifies tokens addressed to one service; kept on ``app.state.identity_verifier``."""

    def __init__(self, secret: str, audience: str) -> None:
        self._secret = secret
        self.audience = audience

    def __call__(self, token: str) -> InternalIdentity:
        return verify_identity(self._secret, token, self.audience)


def _current_identity(request: Request) -> InternalIdentity:
    token = request.headers.get(HEADER)
    if not token:
        raise Unauthorized(f"Missing {HEADER} header", code="identity_missing")
    verifier: IdentityVerifier = request.app.state.identity_verifier
    return verifier(token)


#: Route parameter type: ``identity: Identity`` requires a valid internal identity token.
Identity = Annotated[InternalIdentity, Depends(_current_identity)]
