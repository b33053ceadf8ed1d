"""Start-up: every common operator mistake ends as one line on stderr and exit code 2."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from coagent_kit import runner
from coagent_kit.runner import StartupError, check_port_free, run_service
from coagent_kit.settings import ServiceSettings


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def quiet_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the process-wide logging/tracing set-up and uvicorn out of these tests."""
    monkeypatch.setattr(runner, "setup_logging", lambda *a, **k: None)
    monkeypatch.setattr(runner, "setup_tracing", lambda *a, **k: None)

    def no_server(*_: object, **__: object) -> None:
        raise AssertionError("uvicorn must not start")

    monkeypatch.setattr(runner.uvicorn, "run", no_server)


def _never_built(_: ServiceSettings) -> FastAPI:
    raise AssertionError("the app must not be built")


def test_check_port_free(busy_port: int) -> None:
    with pytest.raises(StartupError, match=rf"^cannot listen on 127\.0\.0\.1:{busy_port}: "):
        check_port_free("127.0.0.1", busy_port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    check_port_free("127.0.0.1", free)


def _run_and_read_stderr(
    settings_cls: type[ServiceSettings],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    migrations: Path | None = None,
) -> str:
    with pytest.raises(SystemExit) as info:
        run_service(settings_cls, _never_built, migrations, argv=argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


@pytest.mark.usefixtures("quiet_runner")
def test_busy_port_is_one_line(
    demo_settings_cls: type[ServiceSettings],
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    busy_port: int,
) -> None:
    clean_env.setenv("DEMO_PORT", str(busy_port))
    err = _run_and_read_stderr(demo_settings_cls, capsys, ["serve"])
    assert err.startswith(f"coagent-demo: cannot listen on 127.0.0.1:{busy_port}: ")


@pytest.mark.usefixtures("quiet_runner")
def test_unreachable_broker_is_one_line(
    demo_settings_cls: type[ServiceSettings],
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    clean_env.setenv("DEMO_PORT", str(free))
    clean_env.setenv("COAGENT_NATS_URL", "nats://127.0.0.1:1")
    clean_env.setenv("COAGENT_CONNECT_TIMEOUT_S", "0.3")
    err = _run_and_read_stderr(demo_settings_cls, capsys, ["serve"])
    assert err.startswith("coagent-demo: cannot reach NATS at nats://127.0.0.1:1")


@pytest.mark.usefixtures("quiet_runner")
def test_migrate_without_a_database_is_one_line(
    demo_settings_cls: type[ServiceSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    err = _run_and_read_stderr(demo_settings_cls, capsys, ["migrate"], migrations=None)
    assert err == "coagent-demo: this service has no database to migrate"


@pytest.mark.usefixtures("quiet_runner")
def test_migrate_against_an_unreachable_database_is_one_line(
    demo_settings_cls: type[ServiceSettings],
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    (tmp_path / "env.py").write_text(
        "from coagent_kit.db import new_metadata, run_migrations\nrun_migrations(new_metadata())\n"
    )
    (tmp_path / "versions").mkdir()
    clean_env.setenv("DEMO_DATABASE_URL", "postgresql+asyncpg://u:p@127.0.0.1:1/db")
    err = _run_and_read_stderr(demo_settings_cls, capsys, ["migrate"], migrations=tmp_path)
    assert err.startswith("coagent-demo: cannot reach the database: ")
