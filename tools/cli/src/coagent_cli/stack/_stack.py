"""EmbeddedStack: NATS, PostgreSQL and FalkorDB as child servers of one ``coagent`` process."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from types import TracebackType
from typing import IO, Protocol

from ._config import StackConfig, StackEndpoints, StackError, check_ports_free, client_host
from ._postgres import Postgres
from ._process import ManagedServer
from ._servers import FalkorDB, Nats

_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 10.0


class _Component(Protocol):
    server: ManagedServer

    def start(self, timeout: float) -> None: ...
    def stop(self, timeout: float) -> None: ...


class EmbeddedStack:
    """Start, check and stop the three embedded servers that back a local CoAgent fleet.

    One process at a time owns a data directory (an flock on ``run/stack.lock``, released by
    the kernel if that process dies). A start after a crash finds the old servers through their
    pid files, stops them, and starts again on the same data.
    """

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        # Absolute and resolved: the path is matched against the servers' argv and cwd.
        self.data_dir = config.data_dir.expanduser().resolve()
        self.run_dir = self.data_dir / "run"
        self.log_dir = self.data_dir / "logs"
        dirs = (self.data_dir, self.run_dir, self.log_dir)
        self._nats = Nats(config, *dirs)
        self._postgres = Postgres(*dirs, ephemeral=config.ephemeral)
        self._falkordb = FalkorDB(config, *dirs)
        # Start order; stop goes the other way.
        self._components: tuple[_Component, ...] = (self._nats, self._postgres, self._falkordb)
        self._lock: IO[str] | None = None

    @property
    def endpoints(self) -> StackEndpoints:
        """Client URLs; they depend only on the configuration, so any process can compute them."""
        host = client_host(self.config.host)
        return StackEndpoints(
            nats_url=f"nats://{host}:{self.config.nats_port}",
            redis_url=f"redis://{host}:{self.config.redis_port}/0",
            graph_url=f"redis://{host}:{self.config.redis_port}",
            postgres_admin_uri=self._postgres.admin_uri(),
        )

    def start(self) -> StackEndpoints:
        """Start NATS, PostgreSQL and FalkorDB in that order and wait until each is ready."""
        if self._lock is not None:
            return self.endpoints
        for path in (self.data_dir, self.run_dir, self.log_dir):
            path.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            # Holding the lock means no live coagent owns these servers: they are a crashed
            # run's leftovers, and they would hold the ports and the data files.
            for component in self._components:
                component.stop(_STOP_TIMEOUT_S)
            check_ports_free(self.config)
            for component in self._components:
                component.start(_START_TIMEOUT_S)
        except BaseException:
            # Keep the data (and its logs, which the error points to) even when ephemeral, and
            # let the original error through rather than a secondary one from the cleanup.
            with contextlib.suppress(StackError):
                self._stop_servers()
            self._release_lock()
            raise
        return self.endpoints

    def ensure_database(self, service: str) -> str:
        """Create role and database ``coagent_<service>`` (``-`` becomes ``_``) if missing.

        The role's password is generated once and kept in ``data_dir/postgres-secrets.json``
        (mode 0600); the database gets the ``vector`` extension. Returns a SQLAlchemy URL,
        ``postgresql+asyncpg://<role>:<pw>@/<db>?host=<socket dir>``, usable from any process.
        """
        return self._postgres.ensure_database(service)

    def stop(self) -> None:
        """Stop all servers (SIGTERM or fast shutdown, SIGKILL after a timeout); safe to repeat.

        Servers are found through their pid files, so this also stops a stack that an earlier,
        crashed process started. With ``ephemeral`` the whole data directory is deleted.
        """
        try:
            self._stop_servers()
        finally:
            self._release_lock()
            if self.config.ephemeral:
                shutil.rmtree(self.data_dir, ignore_errors=True)
                self._postgres.remove_socket_dir()

    def status(self) -> dict[str, str]:
        """``{"nats" | "postgres" | "falkordb": "running" | "stopped"}``, from the pid files."""
        return {
            c.server.name: "running" if c.server.live_pid() is not None else "stopped"
            for c in self._components
        }

    def pids(self) -> dict[str, int]:
        """The pid of each running server (for diagnostics and tests)."""
        found = {c.server.name: c.server.live_pid() for c in self._components}
        return {name: pid for name, pid in found.items() if pid is not None}

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _stop_servers(self) -> None:
        errors: list[str] = []
        for component in reversed(self._components):
            try:
                component.stop(_STOP_TIMEOUT_S)
            except (OSError, StackError) as exc:
                # Keep going: one stubborn server must not leave the others running.
                errors.append(f"{component.server.label}: {exc}")
        if errors:
            raise StackError("could not stop " + "; ".join(errors))

    def _acquire_lock(self) -> None:
        lock = (self.run_dir / "stack.lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "unknown"
            lock.close()
            raise StackError(
                f"the stack in {self.data_dir} is already started by pid {owner}; "
                "stop it first or use another data directory"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None
