"""Fixtures shared by the gateway tests."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from coagent_gateway.settings import GatewaySettings

SECRET = "test-internal-secret-0123456789abcdefghij"
JWT_SECRET = "test-jwt-secret-0123456789abcdefghijklmnop"


@pytest.fixture
def settings() -> GatewaySettings:
    """Test settings with known secrets (32+ bytes for PyJWT)."""
    return GatewaySettings(
        env="test", internal_token_secret=SecretStr(SECRET), jwt_secret=SecretStr(JWT_SECRET)
    )
