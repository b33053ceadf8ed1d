"""``coagent up --traces``: an embedded OTLP trace viewer (Arize Phoenix) the fleet exports to.

Phoenix is large (hundreds of MB of dependencies that pin their own web stack), so it is not part
of the workspace: ``make run-traces`` installs it once as an isolated uv tool, and this module
finds its ``phoenix`` command, starts ``phoenix serve`` with its data under the data dir, waits
until it answers and gives every service ``COAGENT_OTLP_ENDPOINT`` pointing at it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from coagent_cli.fleet import FleetError
from coagent_kit.net import bind_error

#: The version ``make run-traces`` installs.
PHOENIX_VERSION = "20.26.1"
INSTALL_HINT = (
    "the trace viewer (Arize Phoenix) is not installed: run `make run-traces` (installs it "
    f"with `uv tool install arize-phoenix=={PHOENIX_VERSION}`), or set COAGENT_PHOENIX_BIN "
    "to its `phoenix` command"
)
#: Spans of the fleet land in this Phoenix project.
PROJECT = "coagent"


class TraceViewerError(FleetError):
    """The viewer is missing or did not start; the message says what to do."""


@dataclass(frozen=True)
class ViewerConfig:
    """Where the viewer listens and keeps its data (``COAGENT_TRACES_*`` variables)."""

    binary: Path
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 6006
    grpc_port: int = 4317

    @property
    def url(self) -> str:
        """The viewer's web UI, also its OTLP/HTTP endpoint (``/v1/traces``)."""
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [str(self.binary), "serve"]

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """The viewer process's environment: ports, data dir, and no usage reporting."""
        return {
            **base,
            "PHOENIX_HOST": self.host,
            "PHOENIX_PORT": str(self.port),
            "PHOENIX_GRPC_PORT": str(self.grpc_port),
            "PHOENIX_WORKING_DIR": str(self.data_dir),
            "PHOENIX_TELEMETRY_ENABLED": "false",
        }

    def fleet_env(self) -> dict[str, str]:
        """What every service gets so its spans reach the viewer, under one project."""
        return {
            "COAGENT_OTLP_ENDPOINT": self.url,
            "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={PROJECT}",
        }


def find_phoenix(env: Mapping[str, str]) -> Path | None:
    """``COAGENT_PHOENIX_BIN``, else ``phoenix`` on the PATH, else uv's tool bin directory."""
    given = env.get("COAGENT_PHOENIX_BIN")
    if given:
        return Path(given) if Path(given).is_file() else None
    found = shutil.which("phoenix", path=env.get("PATH"))
    if found is not None:
        return Path(found)
    tool_bin = Path(env.get("UV_TOOL_BIN_DIR") or Path.home() / ".local" / "bin") / "phoenix"
    return tool_bin if tool_bin.is_file() else None


def viewer_config(env: Mapping[str, str], data_dir: Path) -> ViewerConfig:
    """The viewer's settings; :class:`TraceViewerError` when it is not installed or a port is
    not a number."""
    binary = find_phoenix(env)
    if binary is None:
        raise TraceViewerError(INSTALL_HINT)
    try:
        return ViewerConfig(
            binary=binary,
            data_dir=data_dir / "phoenix",
            host=env.get("COAGENT_TRACES_HOST", "127.0.0.1"),
            port=int(env.get("COAGENT_TRACES_PORT", 6006)),
            grpc_port=int(env.get("COAGENT_TRACES_GRPC_PORT", 4317)),
        )
    except ValueError as exc:
        raise TraceViewerError(f"a COAGENT_TRACES_*_PORT variable is not a number: {exc}") from exc


class TraceViewer:
    """The viewer process: started before the fleet, stopped after it."""

    def __init__(self, config: ViewerConfig, log_file: Path) -> None:
        self.config = config
        self._log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 300.0) -> None:
        """Spawn ``phoenix serve`` and wait until it answers."""
        self.spawn()
        self.wait_ready(timeout_s)

    def spawn(self) -> None:
        """Start ``phoenix serve`` without waiting: it boots (and, the first time, migrates its
        database) while the stack and the fleet start."""
        for port, variable in (
            (self.config.port, "COAGENT_TRACES_PORT"),
            (self.config.grpc_port, "COAGENT_TRACES_GRPC_PORT"),
        ):
            if bind_error(self.config.host, port) is not None:
                raise TraceViewerError(
                    f"port {port} (trace viewer) is already in use on {self.config.host}; "
                    f"set {variable}"
                )
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        with self._log_file.open("ab") as log:
            self._process = subprocess.Popen(
                self.config.command(),
                env=self.config.env(os.environ),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        """Wait until the viewer answers; :class:`TraceViewerError` if it exits or times out."""
        deadline = time.monotonic() + timeout_s
        while not _answers(f"{self.config.url}/healthz"):
            assert self._process is not None
            if self._process.poll() is not None:
                raise TraceViewerError(
                    f"the trace viewer exited with code {self._process.returncode}; "
                    f"see {self._log_file}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TraceViewerError(
                    f"the trace viewer did not answer within {timeout_s:.0f}s; see {self._log_file}"
                )
            time.sleep(0.5)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the viewer (killed if it does not stop in time)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
