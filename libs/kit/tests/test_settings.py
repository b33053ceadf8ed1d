"""Settings: shared ``COAGENT_*`` values, per-service overrides, and refusal of weak secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from coagent_kit.runner import StartupError, load_settings, run_service
from coagent_kit.settings import ServiceSettings

STRONG = "a-real-secret-of-enough-length-0123456789"


def test_shared_value_applies(
    demo_settings_cls: type[ServiceSettings], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("COAGENT_NATS_URL", "nats://shared:4222")
    clean_env.setenv("COAGENT_LOG_LEVEL", "DEBUG")
    settings = demo_settings_cls()
    assert settings.nats_url == "nats://shared:4222"
    assert settings.log_level == "DEBUG"


def test_service_prefix_overrides_shared_value(
    demo_settings_cls: type[ServiceSettings], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("COAGENT_NATS_URL", "nats://shared:4222")
    clean_env.setenv("DEMO_NATS_URL", "nats://own:4222")
    assert demo_settings_cls().nats_url == "nats://own:4222"


def test_defaults_without_environment(demo_settings_cls: type[ServiceSettings]) -> None:
    settings = demo_settings_cls()
    assert settings.env == "dev"
    assert settings.port == 8100
    assert settings.nats_url == "nats://127.0.0.1:4222"


@pytest.mark.parametrize(
    ("field", "shared", "own", "default"),
    [
        ("port", "9999", "8123", 8100),
        ("host", "0.0.0.0", "127.0.0.2", "127.0.0.1"),
        ("database_url", "postgresql+asyncpg://x@h/shared", "postgresql+asyncpg://x@h/own", None),
    ],
)
def test_shared_value_never_leaks_into_per_service_field(
    demo_settings_cls: type[ServiceSettings],
    clean_env: pytest.MonkeyPatch,
    field: str,
    shared: str,
    own: str,
    default: object,
) -> None:
    clean_env.setenv(f"COAGENT_{field.upper()}", shared)
    leaked = getattr(demo_settings_cls(), field)
    assert str(leaked) != shared
    if default is not None:
        assert leaked == default
    clean_env.setenv(f"DEMO_{field.upper()}", own)
    assert str(getattr(demo_settings_cls(), field)) == own


def test_settings_are_frozen(demo_settings_cls: type[ServiceSettings]) -> None:
    settings = demo_settings_cls()
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("secret", [None, "changeme", "", "short-secret"])
def test_prod_refuses_placeholder_or_short_internal_secret(
    demo_settings_cls: type[ServiceSettings], clean_env: pytest.MonkeyPatch, secret: str | None
) -> None:
    clean_env.setenv("COAGENT_ENV", "prod")
    clean_env.setenv("DEMO_API_SECRET", STRONG)
    if secret is not None:
        clean_env.setenv("COAGENT_INTERNAL_TOKEN_SECRET", secret)
    with pytest.raises(ValidationError, match="COAGENT_INTERNAL_TOKEN_SECRET") as info:
        demo_settings_cls()
    assert "COAGENT_ENV=prod" in str(info.value)


def test_prod_names_the_service_variable_of_a_service_secret(
    demo_settings_cls: type[ServiceSettings], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("COAGENT_ENV", "prod")
    clean_env.setenv("COAGENT_INTERNAL_TOKEN_SECRET", STRONG)
    with pytest.raises(ValidationError, match="DEMO_API_SECRET"):
        demo_settings_cls()


def test_prod_accepts_real_secrets(
    demo_settings_cls: type[ServiceSettings], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("COAGENT_ENV", "prod")
    clean_env.setenv("COAGENT_INTERNAL_TOKEN_SECRET", STRONG)
    clean_env.setenv("DEMO_API_SECRET", STRONG + "-api")
    settings = demo_settings_cls()
    assert settings.env == "prod"
    assert settings.internal_token_secret.get_secret_value() == STRONG
    assert STRONG not in repr(settings)


@pytest.mark.parametrize("env", ["dev", "test"])
def test_placeholder_secrets_accepted_outside_prod(
    demo_settings_cls: type[ServiceSettings], clean_env: pytest.MonkeyPatch, env: str
) -> None:
    clean_env.setenv("COAGENT_ENV", env)
    settings = demo_settings_cls()
    assert (
        settings.internal_token_secret.get_secret_value()
        == "dev-internal-token-secret-not-for-production"
    )


def test_env_name_mapping(demo_settings_cls: type[ServiceSettings]) -> None:
    assert demo_settings_cls.env_name("nats_url") == "COAGENT_NATS_URL"
    assert demo_settings_cls.env_name("internal_token_secret") == "COAGENT_INTERNAL_TOKEN_SECRET"
    assert demo_settings_cls.env_name("env") == "COAGENT_ENV"
    assert demo_settings_cls.env_name("port") == "DEMO_PORT"
    assert demo_settings_cls.env_name("host") == "DEMO_HOST"
    assert demo_settings_cls.env_name("database_url") == "DEMO_DATABASE_URL"
    assert demo_settings_cls.env_name("api_secret") == "DEMO_API_SECRET"


def test_load_settings_turns_a_bad_value_into_one_line(
    demo_settings_cls: type[ServiceSettings], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("DEMO_PORT", "99999")
    with pytest.raises(StartupError, match=r"^configuration error: DEMO_PORT: "):
        load_settings(demo_settings_cls)


def test_load_settings_reports_a_weak_secret(
    demo_settings_cls: type[ServiceSettings], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("COAGENT_ENV", "prod")
    with pytest.raises(StartupError) as info:
        load_settings(demo_settings_cls)
    message = str(info.value)
    assert message.startswith("configuration error: COAGENT_INTERNAL_TOKEN_SECRET must be set")
    assert "\n" not in message


def test_run_service_exits_2_with_one_line_on_bad_settings(
    demo_settings_cls: type[ServiceSettings],
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env.setenv("COAGENT_ENV", "staging")

    def create_app(_: ServiceSettings) -> object:
        raise AssertionError("the app must not be built")

    with pytest.raises(SystemExit) as info:
        run_service(demo_settings_cls, create_app, None, argv=["serve"])  # type: ignore[arg-type]
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("coagent-demo: configuration error: COAGENT_ENV: ")
    assert err.count("\n") == 1


def test_stream_replicas_default_to_one_and_come_from_the_fleet_variable(
    demo_settings_cls: type[ServiceSettings], clean_env: pytest.MonkeyPatch
) -> None:
    assert demo_settings_cls().stream_replicas == 1

    clean_env.setenv("COAGENT_STREAM_REPLICAS", "3")

    assert demo_settings_cls().stream_replicas == 3


@pytest.mark.parametrize("value", ["0", "6", "three"])
def test_stream_replicas_outside_what_nats_supports_are_refused(
    demo_settings_cls: type[ServiceSettings], clean_env: pytest.MonkeyPatch, value: str
) -> None:
    clean_env.setenv("COAGENT_STREAM_REPLICAS", value)

    with pytest.raises(StartupError, match="COAGENT_STREAM_REPLICAS"):
        load_settings(demo_settings_cls)
