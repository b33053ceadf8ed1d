"""One server process: spawn it detached, find it again through its pid file, wait for it, stop it.

Pid files plus a check of the process's command line or working directory (not just "is the pid
alive") let a later run, or another process such as ``coagent status``, tell our server apart from
an unrelated process that reused the pid after a crash.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._config import StackError

_POLL_S = 0.02
_KILL_WAIT_S = 5.0


@dataclass(frozen=True)
class RunAs:
    """The unprivileged account a server runs under when we are root (PostgreSQL refuses root)."""

    user: str
    uid: int
    gid: int


@dataclass
class ManagedServer:
    """A server we start in its own session, logging to ``logs/<name>.log``, pid in ``run/``."""

    name: str
    label: str
    exe_name: str
    #: The server's data directory: it appears in its argv, or is its working directory.
    marker: Path
    run_dir: Path
    log_dir: Path
    stop_signal: signal.Signals = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log_offset: int = 0

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def live_pid(self) -> int | None:
        """The pid of this server if its pid file points at a live process of it, else None."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if process_matches(pid, self.exe_name, self.marker) else None

    def spawn(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        run_as: RunAs | None = None,
    ) -> None:
        """Start the server detached from our terminal and record its pid."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.label}\n".encode())
            log.flush()
            self._log_offset = log.tell()
            # A new session keeps a Ctrl-C in the parent's terminal from reaching the server
            # before the supervisor stops everything in order; it also makes the server the leader
            # of a process group we can kill as a whole (postgres backends included).
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
                # extra_groups=[] drops root's supplementary groups, not just its uid and gid.
                user=run_as.uid if run_as else None,
                group=run_as.gid if run_as else None,
                extra_groups=[] if run_as else None,
            )
        self.pid_file.write_text(f"{self.proc.pid}\n")

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> None:
        """Poll ``probe`` until it succeeds; raise if the process dies or the timeout passes."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and (code := self.proc.poll()) is not None:
                raise StackError(
                    f"{self.label} exited with code {code} while starting; "
                    f"see {self.log_file}: {self.log_tail()}"
                )
            if probe():
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"{self.label} was not ready after {timeout:.0f} s; "
                    f"see {self.log_file}: {self.log_tail()}"
                )
            time.sleep(_POLL_S)

    def log_tail(self, lines: int = 3) -> str:
        """The last lines this run wrote to the log, joined into one line."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(tail) or "(log is empty)"

    def stop(self, timeout: float) -> None:
        """Stop the server if it runs: its stop signal, then SIGKILL to its group on timeout."""
        pid = self.proc.pid if self.proc is not None and self.proc.poll() is None else None
        pid = pid or self.live_pid()
        if pid is not None:
            terminate(pid, self.stop_signal, timeout, self.proc)
        if self.proc is not None:
            # Reap our child so it does not linger as a zombie.
            try:
                self.proc.wait(timeout=_KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                raise StackError(f"{self.label} (pid {self.proc.pid}) survived SIGKILL") from None
            self.proc = None
        self.pid_file.unlink(missing_ok=True)


def terminate(
    pid: int, sig: signal.Signals, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Send ``sig`` and wait; if the process outlives ``timeout``, SIGKILL its process group."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    if _wait_gone(pid, timeout, proc):
        return
    try:
        # Our servers lead their own session, so the group holds exactly the server and its
        # children (postgres backends); killing the group leaves no orphans.
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _wait_gone(pid, _KILL_WAIT_S, proc)


def _wait_gone(pid: int, timeout: float, proc: subprocess.Popen[bytes] | None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.pid == pid:
            if proc.poll() is not None:
                return True
        elif not pid_alive(pid):
            return True
        time.sleep(_POLL_S)
    return False


def pid_alive(pid: int) -> bool:
    """True if ``pid`` is a running process (a zombie waiting to be reaped does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    # The state follows the parenthesised command name, which may itself contain spaces.
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def process_matches(pid: int, exe_name: str, marker: Path) -> bool:
    """True if ``pid`` is a live ``exe_name`` whose argv names ``marker`` or whose cwd is it.

    redis-server rewrites its argv into a title such as ``redis-server 127.0.0.1:6379`` but has
    changed directory into its ``--dir``; postgres does the same with its data directory.
    """
    if pid <= 0 or not pid_alive(pid):
        return False
    proc_dir = Path(f"/proc/{pid}")
    if not proc_dir.is_dir():
        return _ps_command(pid).find(exe_name) >= 0
    try:
        argv = (proc_dir / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    try:
        cwd = os.readlink(proc_dir / "cwd")
    except OSError:
        cwd = ""
    # A rewritten title keeps the executable as its first word.
    program = Path(argv[0].split(" ")[0]).name
    return program == exe_name and (str(marker) in argv or cwd == str(marker))


def _ps_command(pid: int) -> str:
    result = subprocess.run(
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout
