"""The operator allow-list of http nodes: networks parsed, loopback only for dev and test."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from coagent_workflow_engine.runtime.ssrf import EgressPolicy
from coagent_workflow_engine.settings import WorkflowEngineSettings

SECRET = SecretStr("s" * 40)
KEYS = Fernet.generate_key().decode()


def settings(env: str, networks: str) -> WorkflowEngineSettings:
    return WorkflowEngineSettings(
        env=env,
        internal_token_secret=SECRET,
        encryption_keys=KEYS,  # type: ignore[arg-type]
        http_allow_networks=networks,  # type: ignore[arg-type]
    )


def test_a_comma_separated_list_becomes_the_egress_policy() -> None:
    cfg = settings("test", "127.0.0.1/32, 10.20.0.0/16")
    policy = EgressPolicy.of(cfg.http_allow_networks, cfg.http_max_response_bytes)
    assert [str(n) for n in policy.allow] == ["127.0.0.1/32", "10.20.0.0/16"]
    assert policy.max_response_bytes == 1024 * 1024


def test_production_may_allow_an_internal_network_but_not_loopback_or_metadata() -> None:
    assert settings("prod", "10.20.0.0/16").http_allow_networks == ["10.20.0.0/16"]
    with pytest.raises(ValidationError, match="only when COAGENT_ENV is dev or test"):
        settings("prod", "127.0.0.1/32")
    with pytest.raises(ValidationError, match="only when COAGENT_ENV is dev or test"):
        settings("prod", "169.254.169.254/32")


def test_a_bad_network_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="'not-a-net' is not a network"):
        settings("test", "not-a-net")
