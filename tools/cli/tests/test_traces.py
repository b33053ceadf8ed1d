"""``coagent up --traces``: finding the viewer, its command line and environment, the services'
environment, and a clear message when it is not installed."""

from __future__ import annotations

import json
import signal
import socket
import stat
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from coagent_cli import main as cli
from coagent_cli.fleet import SERVICES, Fleet, FleetConfig
from coagent_cli.stack import StackEndpoints, free_port
from coagent_cli.traces import (
    INSTALL_HINT,
    PHOENIX_VERSION,
    TraceViewer,
    TraceViewerError,
    ViewerConfig,
    find_phoenix,
    viewer_config,
)

#: A stand-in for ``phoenix serve`` (the real one takes minutes to install and start): it answers
#: ``/healthz`` on ``PHOENIX_PORT`` and writes the arguments and environment it was given.
FAKE_PHOENIX = textwrap.dedent(
    """\
    #!{python}
    import http.server, json, os, sys
    path = os.path.join(os.environ["PHOENIX_WORKING_DIR"], "started.json")
    with open(path, "w") as out:
        json.dump({{"argv": sys.argv[1:], "env": dict(os.environ)}}, out)
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()
        def log_message(self, *args):
            pass
    port = int(os.environ["PHOENIX_PORT"])
    http.server.HTTPServer((os.environ["PHOENIX_HOST"], port), Health).serve_forever()
    """
)


@pytest.fixture
def fake_phoenix(tmp_path: Path) -> Path:
    script = tmp_path / "bin" / "phoenix"
    script.parent.mkdir()
    script.write_text(FAKE_PHOENIX.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_the_viewer_is_found_by_variable_then_path_then_uv_tool_dir(
    fake_phoenix: Path, tmp_path: Path
) -> None:
    empty = str(tmp_path / "empty")
    assert find_phoenix({"COAGENT_PHOENIX_BIN": str(fake_phoenix), "PATH": empty}) == fake_phoenix
    assert find_phoenix({"PATH": str(fake_phoenix.parent)}) == fake_phoenix
    tools = {"PATH": empty, "UV_TOOL_BIN_DIR": str(fake_phoenix.parent)}
    assert find_phoenix(tools) == fake_phoenix
    assert find_phoenix({"PATH": empty, "UV_TOOL_BIN_DIR": empty}) is None
    assert find_phoenix({"COAGENT_PHOENIX_BIN": str(tmp_path / "missing")}) is None


def test_a_missing_viewer_says_how_to_install_it(tmp_path: Path) -> None:
    empty = str(tmp_path / "empty")
    with pytest.raises(TraceViewerError) as refused:
        viewer_config({"PATH": empty, "UV_TOOL_BIN_DIR": empty}, tmp_path)
    assert str(refused.value) == INSTALL_HINT
    assert "make run-traces" in INSTALL_HINT


def test_a_bad_viewer_port_is_named(fake_phoenix: Path, tmp_path: Path) -> None:
    env = {"COAGENT_PHOENIX_BIN": str(fake_phoenix), "COAGENT_TRACES_PORT": "web"}
    with pytest.raises(TraceViewerError, match="COAGENT_TRACES_"):
        viewer_config(env, tmp_path)


def test_viewer_command_line_and_environment(fake_phoenix: Path, tmp_path: Path) -> None:
    env = {
        "COAGENT_PHOENIX_BIN": str(fake_phoenix),
        "COAGENT_TRACES_PORT": "7006",
        "COAGENT_TRACES_GRPC_PORT": "7317",
    }
    config = viewer_config(env, tmp_path)
    assert config.command() == [str(fake_phoenix), "serve"]
    assert config.url == "http://127.0.0.1:7006"
    viewer_env = config.env({"HOME": "/home/x"})
    assert viewer_env["HOME"] == "/home/x"
    assert viewer_env["PHOENIX_PORT"] == "7006"
    assert viewer_env["PHOENIX_GRPC_PORT"] == "7317"
    assert viewer_env["PHOENIX_WORKING_DIR"] == str(tmp_path / "phoenix")
    assert viewer_env["PHOENIX_TELEMETRY_ENABLED"] == "false"


def test_every_service_exports_to_the_viewer(fake_phoenix: Path, tmp_path: Path) -> None:
    config = ViewerConfig(binary=fake_phoenix, data_dir=tmp_path / "phoenix", port=7006)
    fleet_config = FleetConfig(data_dir=tmp_path, env=config.fleet_env())
    endpoints = StackEndpoints("nats://n", "redis://r", "redis://r", "postgresql://p")
    fleet = Fleet(fleet_config, endpoints, {s.name: "postgresql://db" for s in SERVICES})
    for spec in SERVICES:
        env = fleet.env_for(spec)
        assert env["COAGENT_OTLP_ENDPOINT"] == "http://127.0.0.1:7006", spec.name
        assert env["OTEL_RESOURCE_ATTRIBUTES"] == "openinference.project.name=coagent"


def test_the_viewer_process_starts_answers_and_stops(fake_phoenix: Path, tmp_path: Path) -> None:
    config = ViewerConfig(
        binary=fake_phoenix, data_dir=tmp_path / "phoenix", port=free_port(), grpc_port=free_port()
    )
    viewer = TraceViewer(config, tmp_path / "logs" / "phoenix.log")
    viewer.start(timeout_s=30)
    try:
        with urllib.request.urlopen(f"{config.url}/healthz", timeout=5) as answer:
            assert answer.status == 200
        started = json.loads((config.data_dir / "started.json").read_text())
        assert started["argv"] == ["serve"]
        assert started["env"]["PHOENIX_PORT"] == str(config.port)
    finally:
        viewer.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{config.url}/healthz", timeout=2)


def test_a_viewer_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    broken = tmp_path / "phoenix"
    broken.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(3)\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    config = ViewerConfig(binary=broken, data_dir=tmp_path / "data", port=free_port())
    with pytest.raises(TraceViewerError, match="exited with code 3"):
        TraceViewer(config, tmp_path / "phoenix.log").start(timeout_s=30)


@pytest.fixture
def saved_signals() -> Iterator[None]:
    """``up`` installs its own SIGINT/SIGTERM handlers; put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_up_traces_without_the_viewer_fails_with_the_install_hint(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    saved_signals: None,
) -> None:
    empty = str(tmp_path / "empty")
    monkeypatch.setenv("PATH", empty)
    monkeypatch.setenv("UV_TOOL_BIN_DIR", empty)
    monkeypatch.delenv("COAGENT_PHOENIX_BIN", raising=False)
    monkeypatch.setenv("COAGENT_DATA_DIR", str(tmp_path / "data"))
    assert cli.up(traces=True) == 2
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "make run-traces" in out


def test_the_traces_flag_reaches_up(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []

    def fake_up(traces: bool = False) -> int:
        calls.append(traces)
        return 0

    monkeypatch.setattr(cli, "up", fake_up)
    for argv in (["up", "--traces"], ["up"]):
        with pytest.raises(SystemExit) as ended:
            cli.main(argv)
        assert ended.value.code == 0
    assert calls == [True, False]


def test_make_installs_the_version_the_hint_names() -> None:
    makefile = Path(__file__).parents[3] / "Makefile"
    assert f"PHOENIX_VERSION := {PHOENIX_VERSION}" in makefile.read_text()


def test_a_busy_viewer_port_is_refused_before_spawning(fake_phoenix: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = ViewerConfig(binary=fake_phoenix, data_dir=tmp_path / "phoenix", port=port)
        with pytest.raises(TraceViewerError, match="COAGENT_TRACES_PORT"):
            TraceViewer(config, tmp_path / "phoenix.log").spawn()
    assert not (tmp_path / "phoenix" / "started.json").exists()
