"""The six services as supervised processes: environment, migrations, start, readiness, stop.

``coagent up`` and the e2e tests both run the fleet through :class:`Fleet`, so the tests exercise
exactly what a user runs.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from coagent_cli.stack import StackEndpoints


class FleetError(RuntimeError):
    """A service could not start; the message is one line naming the service and the cause."""


@dataclass(frozen=True)
class ServiceSpec:
    """How one service runs: package, env prefix, default port, and whether it has a database."""

    name: str
    package: str
    prefix: str
    default_port: int
    has_database: bool = True

    def port_variable(self) -> str:
        # The gateway is the fleet's public address (fixed interface: COAGENT_HOST / COAGENT_PORT).
        return "COAGENT_PORT" if self.name == "gateway" else f"{self.prefix}PORT"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("chat", "coagent_chat", "CHAT_", 8101),
    ServiceSpec("workflow-engine", "coagent_workflow_engine", "WORKFLOW_ENGINE_", 8102),
    ServiceSpec("trigger", "coagent_trigger", "TRIGGER_", 8103),
    ServiceSpec("graphrag-ingest", "coagent_graphrag_ingest", "GRAPHRAG_INGEST_", 8104),
    ServiceSpec("graphrag-query", "coagent_graphrag_query", "GRAPHRAG_QUERY_", 8105, False),
    ServiceSpec("gateway", "coagent_gateway", "GATEWAY_", 8000),
)


@dataclass(frozen=True)
class FleetConfig:
    """Where the fleet runs; ports default to the ``*_PORT`` variables, then the fixed defaults."""

    data_dir: Path
    host: str = "127.0.0.1"
    ports: Mapping[str, int] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)

    def port(self, spec: ServiceSpec) -> int:
        """The port ``spec`` listens on."""
        if spec.name in self.ports:
            return self.ports[spec.name]
        return int(self.env.get(spec.port_variable(), spec.default_port))

    def url(self, spec: ServiceSpec) -> str:
        """Base URL of ``spec`` on this host."""
        return f"http://{self.host}:{self.port(spec)}"


def fleet_secrets(data_dir: Path) -> dict[str, str]:
    """Dev secrets generated on first run and kept in the data dir (0600), never fixed defaults."""
    path = data_dir / "secrets.json"
    if path.exists():
        values: dict[str, str] = json.loads(path.read_text())
        return values
    values = {
        "internal_token_secret": secrets.token_urlsafe(32),
        "jwt_secret": secrets.token_urlsafe(32),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values


class Fleet:
    """Starts, watches and stops the service processes."""

    def __init__(
        self, config: FleetConfig, endpoints: StackEndpoints, database_urls: Mapping[str, str]
    ) -> None:
        self.config = config
        self._endpoints = endpoints
        self._database_urls = dict(database_urls)
        self._secrets = fleet_secrets(config.data_dir)
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self.log_dir = config.data_dir / "logs"
        self._run_dir = config.data_dir / "run"

    @property
    def gateway_url(self) -> str:
        """The public URL of the fleet."""
        return self.config.url(SERVICES[-1])

    @property
    def internal_token_secret(self) -> str:
        """The secret internal identity tokens are signed with (tests sign their own)."""
        return self._secrets["internal_token_secret"]

    def env_for(self, spec: ServiceSpec) -> dict[str, str]:
        """The complete environment of one service process."""
        env = {**os.environ, **self.config.env}
        env.update(
            COAGENT_NATS_URL=self._endpoints.nats_url,
            COAGENT_REDIS_URL=self._endpoints.redis_url,
            COAGENT_GRAPH_URL=self._endpoints.graph_url,
            COAGENT_INTERNAL_TOKEN_SECRET=self._secrets["internal_token_secret"],
        )
        env.setdefault("COAGENT_ENV", "dev")
        env[f"{spec.prefix}MIGRATE_ON_START"] = "false"  # `coagent up` migrates before starting
        if spec.name == "gateway":
            env.update(COAGENT_HOST=self.config.host, COAGENT_PORT=str(self.config.port(spec)))
            env["GATEWAY_JWT_SECRET"] = self._secrets["jwt_secret"]
            for other in SERVICES[:-1]:
                env[f"GATEWAY_{other.prefix}URL"] = self.config.url(other)
        else:
            env[f"{spec.prefix}HOST"] = self.config.host
            env[f"{spec.prefix}PORT"] = str(self.config.port(spec))
        if spec.name == "trigger":  # dry runs read a room's recent messages from chat
            env["TRIGGER_CHAT_URL"] = self.config.url(SERVICES[0])
            # Room access of policy owners is asked of the gateway's internal API.
            env["TRIGGER_GATEWAY_URL"] = self.gateway_url
        if spec.has_database:
            env[f"{spec.prefix}DATABASE_URL"] = self._database_urls[spec.name]
        return env

    def start(self) -> None:
        """Spawn every service (gateway last); logs go to ``<data_dir>/logs/<service>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._run_dir.mkdir(parents=True, exist_ok=True)
        stop_leftovers(self._run_dir)
        for spec in SERVICES:
            self._spawn(spec)

    def _spawn(self, spec: ServiceSpec) -> None:
        with (self.log_dir / f"{spec.name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", spec.package, "serve"],
                env=self.env_for(spec),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the supervisor, which stops us in order
            )
        self._processes[spec.name] = process
        (self._run_dir / f"{spec.name}.pid").write_text(str(process.pid))

    def wait_ready(
        self, timeout_s: float = 60.0, on_ready: Callable[[str, float], None] | None = None
    ) -> None:
        """Poll each ``/readyz`` until all answer 200; :class:`FleetError` on exit or timeout."""
        started = time.monotonic()
        pending = [spec for spec in SERVICES if spec.name in self._processes]
        while pending:
            for spec in list(pending):
                self._check_alive(spec)
                if _answers(f"{self.config.url(spec)}/readyz"):
                    pending.remove(spec)
                    if on_ready is not None:
                        on_ready(spec.name, time.monotonic() - started)
            if pending and time.monotonic() - started > timeout_s:
                names = ", ".join(s.name for s in pending)
                raise FleetError(f"not ready after {timeout_s:.0f}s: {names}; see {self.log_dir}")
            if pending:
                time.sleep(0.2)

    def _check_alive(self, spec: ServiceSpec) -> None:
        code = self._processes[spec.name].poll()
        if code is not None:
            tail = _last_line(self.log_dir / f"{spec.name}.log")
            raise FleetError(f"{spec.name} exited with code {code}: {tail}")

    def exited(self) -> dict[str, int]:
        """Services whose process has ended, with their exit codes."""
        return {n: c for n, p in self._processes.items() if (c := p.poll()) is not None}

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM every service (gateway first), then SIGKILL what is still running."""
        for name in reversed(list(self._processes)):
            _signal(self._processes[name], signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for name, process in self._processes.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)
                process.wait(5)
            (self._run_dir / f"{name}.pid").unlink(missing_ok=True)
        self._processes.clear()

    def kill(self, name: str) -> None:
        """SIGKILL one service (fault-injection in e2e tests)."""
        process = self._processes[name]
        _signal(process, signal.SIGKILL)
        process.wait(5)

    def restart(self, name: str) -> None:
        """Start one service again after :meth:`kill`."""
        self._spawn(next(s for s in SERVICES if s.name == name))


def stop_leftovers(run_dir: Path) -> None:
    """Kill service processes left by a supervisor that was itself killed (pid files remain)."""
    for pid_file in run_dir.glob("*.pid"):
        pid = int(pid_file.read_text() or 0)
        if pid and _is_service_process(pid):
            os.kill(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)


def service_pids(run_dir: Path) -> dict[str, int]:
    """Live service processes recorded in ``run_dir`` (for ``coagent status``)."""
    live = {}
    for pid_file in run_dir.glob("*.pid"):
        pid = int(pid_file.read_text() or 0)
        if pid and _is_service_process(pid):
            live[pid_file.stem] = pid
    return live


def _is_service_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(spec.package.encode() in cmdline for spec in SERVICES)


def _signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(sig)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _last_line(log_file: Path) -> str:
    try:
        lines = log_file.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"
