"""Access tokens: short-lived HS256 JWTs bound to a session id, with a checked ``typ``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt

from coagent_gateway.auth.domain import ACCESS_TTL, AccessClaims, InvalidToken

ISSUER = "coagent"
AUDIENCE = "coagent-api"
ACCESS_TYPE = "access"


class AccessTokenCodec:
    """Issues and verifies the user access tokens of the public API."""

    def __init__(self, secret: str, ttl: timedelta = ACCESS_TTL) -> None:
        self._secret = secret
        self.ttl = ttl

    def issue(
        self, user_id: str, session_id: str, impersonator_id: str | None = None
    ) -> tuple[str, datetime]:
        """A token for ``user_id`` in ``session_id`` and its expiry."""
        now = datetime.now(UTC)
        expires = now + self.ttl
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "typ": ACCESS_TYPE,
            "sub": user_id,
            "sid": session_id,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": expires,
        }
        if impersonator_id is not None:
            claims["imp"] = impersonator_id
        return jwt.encode(claims, self._secret, algorithm="HS256"), expires

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid access token; :class:`InvalidToken` (401) for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "sid", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("Access token expired", code="token_expired") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("Could not validate credentials") from exc
        if claims["typ"] != ACCESS_TYPE:
            raise InvalidToken("Not an access token")
        return AccessClaims(
            user_id=claims["sub"],
            session_id=claims["sid"],
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            impersonator_id=claims.get("imp"),
        )
